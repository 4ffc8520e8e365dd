"""``newsflow feeds`` as an operator runs it, against real Kafka and a running fetcher."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from newsflow.feeds import list_sources
from shared.settings import CommonSettings
from tests.helpers import REPO, Services, service_env, wait_for
from tests.integration.test_fetcher_faults import FETCHER_ENV, PAGE, rss
from tests.unit.fetcher.site import Site, static


async def newsflow(common: CommonSettings, *args: str) -> str:
    env = {**os.environ, **service_env(common), **FETCHER_ENV}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "newsflow.cli",
        *args,
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        # Apart: a client library's warning on stderr (a partition leader not
        # elected yet) must not break the --json output being parsed.
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, (out + err).decode()
    return out.decode()


async def test_feeds_commands_from_discovery_to_health(
    common: CommonSettings, services: Services, site: Site, tmp_path: Path
) -> None:
    site.route("/a/1", static(PAGE, headers={"Content-Type": "text/html"}))
    site.route("/feed.xml", static(rss(site.url("/a/1"))))
    site.route("/broken.xml", static("no", status=500))
    site.route(
        "/",
        static(
            '<html><head><link rel="alternate" type="application/rss+xml" title="Main" '
            'href="/feed.xml"></head></html>',
            headers={"Content-Type": "text/html"},
        ),
    )
    out = await newsflow(common, "feeds", "discover", site.url("/"), "--add", "--interval", "1")
    assert "rss" in out and site.url("/feed.xml") in out and "added 1 source(s)" in out

    opml = tmp_path / "in.opml"
    opml.write_text(
        f"""<opml version="2.0"><body><outline text="Folder">
        <outline text="Broken" type="rss" xmlUrl="{site.url("/broken.xml")}" newsflowId="broken"
         newsflowInterval="1"/>
        <outline text="No URL"/></outline></body></opml>"""
    )
    out = await newsflow(common, "feeds", "import-opml", str(opml))
    assert "added 1 source(s), skipped 1" in out and "No URL" in out and "no xmlUrl" in out
    await newsflow(common, "feeds", "add", "pg", site.url("/a/1"), "--kind", "pages")
    await newsflow(common, "feeds", "remove", "pg")
    assert sorted(s.id for s in (await list_sources(common)).values())[0] == "broken"

    services.start("fetcher", **FETCHER_ENV)
    app_id = f"{common.index_prefix}-fetcher"

    async def health() -> dict[str, dict[str, object]]:
        listing = json.loads(await newsflow(common, "feeds", "list", "--json", "--app-id", app_id))
        return {row["id"]: row["health"] for row in listing}

    for _ in range(60):
        rows = await health()
        if all(rows.values()) and len(rows) == 2:
            break
        await asyncio.sleep(1)
    main = next(h for sid, h in rows.items() if sid != "broken")
    assert main is not None and main["failures"] == 0 and main["items_seen"] == 1
    assert rows["broken"] is not None and rows["broken"]["last_error_reason"] == "http-500"
    text = await newsflow(common, "feeds", "list", "--app-id", app_id)
    assert "FAIL broken" in text and "http-500" in text, text

    exported = await newsflow(common, "feeds", "export-opml")
    assert 'newsflowId="broken"' in exported and site.url("/feed.xml") in exported
    assert wait_for(lambda: all(s.alive() for s in services.started), 1)
