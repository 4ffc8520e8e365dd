"""Reading the write index and the older indices off the aliases."""

from __future__ import annotations

from typing import Any

import pytest

from services.indexer.layout import IndexLayout, LayoutError, layout_from_aliases

READ, WRITE = "news-articles", "news-articles-write"


def test_first_index_behind_both_aliases() -> None:
    entries: dict[str, Any] = {
        "news-articles-000001": {"aliases": {READ: {}, WRITE: {"is_write_index": True}}}
    }
    assert layout_from_aliases(entries, READ, WRITE) == IndexLayout("news-articles-000001")


def test_after_rollovers_the_older_indices_come_newest_first() -> None:
    entries: dict[str, Any] = {
        "news-articles-000001": {"aliases": {READ: {}, WRITE: {"is_write_index": False}}},
        "news-articles-000003": {"aliases": {READ: {}, WRITE: {"is_write_index": True}}},
        "news-articles-000002": {"aliases": {READ: {}, WRITE: {"is_write_index": False}}},
    }
    layout = layout_from_aliases(entries, READ, WRITE)
    assert layout.write == "news-articles-000003"
    assert layout.older == ("news-articles-000002", "news-articles-000001")
    assert layout.all[0] == layout.write


def test_a_single_index_without_the_flag_is_the_write_index() -> None:
    entries: dict[str, Any] = {"legacy": {"aliases": {READ: {}, WRITE: {}}}}
    assert layout_from_aliases(entries, READ, WRITE).write == "legacy"


def test_no_write_index_is_an_error_for_the_operator() -> None:
    entries: dict[str, Any] = {
        "a": {"aliases": {READ: {}, WRITE: {}}},
        "b": {"aliases": {READ: {}, WRITE: {}}},
    }
    with pytest.raises(LayoutError, match="infra apply"):
        layout_from_aliases(entries, READ, WRITE)
