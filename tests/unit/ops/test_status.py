"""The status screen's arithmetic and text."""

from __future__ import annotations

from newsflow.reprocess import make_plan
from newsflow.status import (
    IndexStatus,
    Member,
    Snapshot,
    StageStatus,
    render,
    stage_specs,
    with_rates,
)
from shared.settings import CommonSettings


def _snap(at: float, consumed: int) -> Snapshot:
    member = Member("cleaner-pid7-metrics9412", "127.0.0.1", 8, 9412)
    stage = StageStatus("cleaner", "g", "Stable", [member], lag=5, consumed=consumed)
    return Snapshot(
        at, [stage], 2, IndexStatus("news-articles", 10, "Title", "2026-05-01T00:00:00")
    )


def test_rates_are_committed_growth_per_second() -> None:
    assert with_rates(_snap(10.0, 100), None).stages[0].rate is None
    assert with_rates(_snap(12.0, 150), _snap(10.0, 100)).stages[0].rate == 25.0


def test_render_shows_workers_lag_dead_letters_and_index() -> None:
    text = render(with_rates(_snap(12.0, 150), _snap(10.0, 100)))
    assert "cleaner-pid7@127.0.0.1 (8p, :9412)" in text
    assert "25.0" in text and "dead letters: 2" in text
    assert "news-articles: 10 documents" in text and "'Title'" in text


def test_stage_specs_follow_the_pipeline_and_find_internal_topics() -> None:
    specs = stage_specs(CommonSettings(topic_prefix="p."), {"indexer": "i", "dedup": "d"})
    assert [(s.name, s.inputs) for s in specs] == [
        ("dedup", ("p.news.clean",)),
        ("indexer", ("p.news.unique",)),
    ]
    existing = [
        "p.news.clean",
        "d-order",
        "d-shards",
        "d-records-changelog",
        "d-__assignor-__leader",
        "dx-y",
    ]
    assert specs[0].with_internal(existing).inputs == ("p.news.clean", "d-order", "d-shards")


def test_reprocess_plan_names_its_own_topics_index_and_groups() -> None:
    plan = make_plan(CommonSettings(topic_prefix="", index_prefix="news"), stamp=42)
    assert plan.work.topics.raw == "reprocess-42.news.raw"
    assert plan.new_index == "news-articles-r42-000001"  # the article template applies
    assert plan.work.write_alias == "news-r42-articles-write"
    assert [s.name for s in plan.specs] == ["cleaner", "dedup", "indexer"]
    env = plan.env()
    assert env["NEWSFLOW_DEDUP_APP_ID"] == "news-reprocess-42-dedup"
    assert env["NEWSFLOW_CLEANER_METRICS_PORT"] == "0"
