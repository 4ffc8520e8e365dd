"""Local files and folders: one article per file, read from disk.

HTML pages (``.html``, ``.htm``) and text dumps (``.txt``: a page as a scraper
saw it, chrome and all) become items whose ``body`` is the file, so the
fetcher downloads nothing. Which folders may be read is the fetcher's
setting (``file_roots``), enforced by :meth:`HttpClient.local_path`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from shared.http import FetchError, HttpClient
from shared.models import FeedSource
from shared.sources.base import PollResult, PollState, SourceItem

__all__ = ["FilesSourceKind"]

log = logging.getLogger(__name__)

# Defaults of the source options.
DEFAULT_SUFFIXES = (".html", ".htm", ".txt")
DEFAULT_MAX_FILES = 200  # files read per poll; the rest follow on the next polls
# A title is a line, not a paragraph someone forgot to break.
_MAX_TITLE_CHARS = 300


@dataclass(frozen=True)
class _Found:
    path: Path
    ctime_ns: int
    mtime_ns: int
    size: int

    @property
    def mark(self) -> tuple[int, str]:
        return (self.ctime_ns, str(self.path))


def _scan(root: Path, pattern: str, suffixes: tuple[str, ...]) -> list[_Found]:
    paths = [root] if root.is_file() else root.glob(pattern)
    found = []
    for path in paths:
        if path.suffix.lower() not in suffixes:
            continue
        try:
            stat = path.stat()
        except OSError:
            continue  # removed while we looked
        if path.is_file():
            found.append(_Found(path, stat.st_ctime_ns, stat.st_mtime_ns, stat.st_size))
    return found


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        return str(best) if best is not None else data.decode("utf-8", "replace")


def _title(text: str, kind: Literal["html", "text"]) -> str | None:
    if kind == "html":
        return None  # the cleaner reads <title> and <h1> itself
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first[:_MAX_TITLE_CHARS] or None


def _read(found: list[_Found], max_bytes: int) -> list[SourceItem]:
    items = []
    for f in found:
        if f.size > max_bytes:
            log.warning("file too large", extra={"path": str(f.path), "bytes": f.size})
            continue
        try:
            data = f.path.read_bytes()[: max_bytes + 1]
        except OSError as exc:
            log.warning("file unreadable", extra={"path": str(f.path), "error": str(exc)})
            continue
        kind: Literal["html", "text"] = "text" if f.path.suffix.lower() == ".txt" else "html"
        text = _decode(data)
        uri = f.path.as_uri()
        items.append(
            SourceItem(
                url=uri,
                # A changed file is a new item (same article id downstream, so
                # the index gets the new version instead of a second document).
                guid=f"{uri}#{f.mtime_ns}-{f.size}",
                title=_title(text, kind),
                published_at=datetime.fromtimestamp(f.mtime_ns / 1e9, UTC),
                body=text,
                body_kind=kind,
            )
        )
    return items


class FilesSourceKind:
    """The ``files`` kind: ``url`` is a file or folder (path or ``file:`` URL).

    Options: ``pattern`` (glob under the folder, default ``**/*``),
    ``suffixes`` (default .html, .htm, .txt), ``max_files`` per poll.

    Each poll offers the files created or changed since the last one, oldest
    first (the state keeps a high-water mark of their change time, so a
    folder of thousands is not re-read on every poll).
    """

    async def poll(self, source: FeedSource, state: PollState, http: HttpClient) -> PollResult:
        root = http.local_path(source.url)
        if not root.exists():
            raise FetchError("not-found", f"{root}: no such file or folder")
        options: dict[str, Any] = source.options
        suffixes = tuple(s.lower() for s in options.get("suffixes", DEFAULT_SUFFIXES))
        pattern = str(options.get("pattern", "**/*"))
        max_files = int(options.get("max_files", DEFAULT_MAX_FILES))
        mark_raw = state.extra.get("mark")
        mark = (int(mark_raw[0]), str(mark_raw[1])) if mark_raw else None

        found = await asyncio.to_thread(_scan, root, pattern, suffixes)
        # Symlinks may point anywhere: each file must itself lie under a root.
        allowed = [f for f in found if self._allowed(http, f.path)]
        fresh = sorted((f for f in allowed if mark is None or f.mark > mark), key=lambda f: f.mark)
        batch = fresh[:max_files]
        if not batch:
            return PollResult(state=state, not_modified=True)
        items = await asyncio.to_thread(_read, batch, http.max_bytes)
        new_state = state.model_copy(update={"extra": {"mark": list(batch[-1].mark)}})
        return PollResult(items=items, state=new_state, more=len(fresh) > len(batch))

    @staticmethod
    def _allowed(http: HttpClient, path: Path) -> bool:
        try:
            http.local_path(os.fspath(path))
        except FetchError:
            return False
        return True
