"""Kibana setup for the compose file: the kibana_system password and the saved objects."""

from __future__ import annotations

from pathlib import Path

import httpx
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from newsflow.paths import KIBANA_DIR
from shared.settings import CommonSettings

__all__ = ["KibanaSettings", "import_saved_objects", "set_system_password"]


class KibanaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", frozen=True, extra="ignore")

    newsflow_kibana_url: str = "http://127.0.0.1:5601"
    kibana_password: SecretStr | None = None


def _es_auth(common: CommonSettings) -> tuple[str, str] | None:
    if common.es_username and common.es_password:
        return common.es_username, common.es_password.get_secret_value()
    return None


def set_system_password(common: CommonSettings, password: SecretStr) -> None:
    """Give the built-in ``kibana_system`` user the password Kibana is configured with."""
    response = httpx.post(
        f"{common.es_url}/_security/user/kibana_system/_password",
        json={"password": password.get_secret_value()},
        auth=_es_auth(common),
        timeout=30,
    )
    response.raise_for_status()


def import_saved_objects(
    common: CommonSettings, kibana_url: str, directory: Path = KIBANA_DIR
) -> int:
    """Import every ``*.ndjson`` under ``directory``, overwriting; returns the object count."""
    total = 0
    for path in sorted(directory.glob("*.ndjson")):
        response = httpx.post(
            f"{kibana_url}/api/saved_objects/_import",
            params={"overwrite": "true"},
            headers={"kbn-xsrf": "newsflow"},
            auth=_es_auth(common),
            timeout=60,
            files={"file": (path.name, path.read_bytes(), "application/ndjson")},
        )
        response.raise_for_status()
        result = response.json()
        if not result.get("success"):
            raise RuntimeError(f"Kibana refused {path.name}: {result.get('errors')}")
        total += int(result.get("successCount", 0))
    return total
