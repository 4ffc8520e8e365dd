import pytest

from newsflow.procs import parse_workers


def test_worker_counts_default_to_one_per_stage() -> None:
    assert parse_workers("") == {"fetcher": 1, "cleaner": 1, "dedup": 1, "indexer": 1}
    assert parse_workers("cleaner=2,dedup=3")["cleaner"] == 2
    assert parse_workers("cleaner=2,dedup=3")["dedup"] == 3


@pytest.mark.parametrize("spec", ["cleaner", "cleaner=x", "painter=2"])
def test_bad_worker_spec_is_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_workers(spec)
