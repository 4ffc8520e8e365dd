"""Backoff, and telling transient failures from the rest."""

from __future__ import annotations

from typing import Any

import pytest
from elastic_transport import ApiResponseMeta, ConnectionError, ConnectionTimeout, HttpHeaders
from elasticsearch import ApiError, BadRequestError

from services.indexer.retry import Backoff, retrying, transient_reason


def _api_error(status: int, cls: type[ApiError] = ApiError) -> ApiError:
    meta = ApiResponseMeta(
        status=status,
        http_version="1.1",
        headers=HttpHeaders(),
        duration=0.0,
        node=None,  # type: ignore[arg-type]
    )
    return cls(message="boom", meta=meta, body={})


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    backoff = Backoff(initial_s=0.5, max_s=4.0)
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    for ceiling in ceilings:
        assert ceiling / 2 <= backoff.next_delay() <= ceiling
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_backoff_survives_a_very_long_outage() -> None:
    backoff = Backoff(initial_s=0.5, max_s=10.0, attempt=10_000)
    assert 5.0 <= backoff.next_delay() <= 10.0


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (ConnectionError("refused"), "connection"),
        (ConnectionTimeout("slow"), "timeout"),
        (_api_error(429), "status-429"),
        (_api_error(503), "status-503"),
        (_api_error(400, BadRequestError), None),
        (_api_error(404), None),
        (ValueError("bug"), None),
    ],
)
def test_transient_reason(exc: Exception, reason: str | None) -> None:
    assert transient_reason(exc) == reason


async def test_retrying_waits_out_transient_failures() -> None:
    failures: list[Exception] = [ConnectionError("down"), _api_error(429), ConnectionTimeout("t")]
    backoff = Backoff(initial_s=0.001, max_s=0.001)

    async def call() -> str:
        if failures:
            raise failures.pop(0)
        return "ok"

    assert await retrying(call, backoff) == "ok"
    assert failures == []
    assert backoff.attempt == 0  # reset by the success


async def test_retrying_raises_what_can_never_succeed() -> None:
    calls: list[Any] = []

    async def call() -> None:
        calls.append(1)
        raise _api_error(400, BadRequestError)

    with pytest.raises(BadRequestError):
        await retrying(call, Backoff())
    assert len(calls) == 1
