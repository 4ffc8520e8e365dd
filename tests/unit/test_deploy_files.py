"""The deploy files are valid: compose against the Compose Specification's schema,
Kibana objects against the index template."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from newsflow.paths import KIBANA_DIR, REPO, TEMPLATE_FILE

# The Compose Specification's JSON schema ships inside the docker-compose
# wheel on PyPI; `make test` downloads that wheel into the cache (see Makefile).
SCHEMA_WHEEL_DIR = REPO / ".cache" / "compose-schema"


def _compose_schema() -> dict[str, Any]:
    wheels = sorted(SCHEMA_WHEEL_DIR.glob("docker_compose-*.whl"))
    assert wheels, f"no docker-compose wheel in {SCHEMA_WHEEL_DIR}: run `make test` (it fetches it)"
    with zipfile.ZipFile(wheels[-1]) as wheel:
        return json.loads(wheel.read("compose/config/compose_spec.json"))


def _compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_compose_file_follows_the_compose_specification() -> None:
    jsonschema.validate(_compose(), _compose_schema())


def test_workers_can_scale() -> None:
    services = _compose()["services"]
    for stage in ("fetcher", "cleaner", "dedup", "indexer"):
        assert "container_name" not in services[stage]
        assert "ports" not in services[stage]


def test_compose_pins_the_same_elastic_version_as_local_provisioning() -> None:
    pom = (REPO / "infra" / "local" / "pom.xml").read_text()
    env = dict(
        line.split("=", 1)
        for line in (REPO / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert f"<es.version>{env['STACK_VERSION']}</es.version>" in pom


def _template_fields() -> dict[str, str]:
    props = json.loads(TEMPLATE_FILE.read_text())["template"]["mappings"]["properties"]
    fields: dict[str, str] = {}

    def walk(prefix: str, mapping: dict[str, Any]) -> None:
        for name, spec in mapping.items():
            path = f"{prefix}{name}"
            if "properties" in spec:
                walk(path + ".", spec["properties"])
            else:
                fields[path] = spec["type"]
                for sub, subspec in spec.get("fields", {}).items():
                    fields[f"{path}.{sub}"] = subspec["type"]

    walk("", props)
    return fields


def _saved_objects() -> list[dict[str, Any]]:
    objects = []
    for path in sorted(Path(KIBANA_DIR).glob("*.ndjson")):
        objects += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return objects


def test_kibana_references_resolve() -> None:
    objects = _saved_objects()
    ids = {(o["type"], o["id"]) for o in objects}
    assert len(ids) == len(objects), "duplicate saved object ids"
    for obj in objects:
        for ref in obj.get("references", []):
            assert (ref["type"], ref["id"]) in ids, f"{obj['id']} → missing {ref}"


def test_kibana_data_view_time_field_and_columns_exist_in_the_template() -> None:
    fields = _template_fields()
    objects = _saved_objects()
    views = [o for o in objects if o["type"] == "index-pattern"]
    assert views and all(fields.get(v["attributes"]["timeFieldName"]) == "date" for v in views)
    for search in (o for o in objects if o["type"] == "search"):
        for column in search["attributes"]["columns"]:
            assert column in fields, f"{search['id']} shows unknown field {column}"
