"""Where the repository's data files are, whether run from a checkout or installed."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INFRA = REPO / "infra"
TOPICS_FILE = INFRA / "kafka" / "topics.yaml"
TEMPLATE_FILE = INFRA / "elasticsearch" / "template.json"
KIBANA_DIR = INFRA / "kibana"
RUN_DIR = REPO / ".run"
