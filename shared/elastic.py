"""The Elasticsearch client, built from settings in one place."""

from __future__ import annotations

from typing import Any

from elasticsearch import AsyncElasticsearch, Elasticsearch

from shared.settings import CommonSettings

__all__ = ["client", "sync_client"]


def _auth(common: CommonSettings) -> dict[str, Any]:
    if common.es_username and common.es_password:
        return {"basic_auth": (common.es_username, common.es_password.get_secret_value())}
    return {}


def client(common: CommonSettings, **kwargs: Any) -> AsyncElasticsearch:
    """An async client for the stage services."""
    return AsyncElasticsearch(common.es_url, **_auth(common), **kwargs)


def sync_client(common: CommonSettings, **kwargs: Any) -> Elasticsearch:
    """A blocking client for the operator command and tests."""
    return Elasticsearch(common.es_url, **_auth(common), **kwargs)
