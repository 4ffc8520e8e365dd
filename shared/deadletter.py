"""Dead letters: what a stage could not process, with why, and the original bytes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from shared.exceptions import PoisonMessage
from shared.models import DeadLetter

__all__ = ["dead_letter", "original_bytes"]


def dead_letter(
    stage: str,
    error: PoisonMessage,
    original: bytes | None,
    *,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    key: bytes | None = None,
) -> DeadLetter:
    """Build the dead letter for ``original``, which failed at ``stage`` with ``error``."""
    return DeadLetter(
        stage=stage,
        reason=error.reason,
        error=str(error.args[0]) if error.args else error.reason,
        topic=topic,
        partition=partition,
        offset=offset,
        key=key.decode("utf-8", "replace") if key is not None else None,
        original=base64.b64encode(original or b"").decode("ascii"),
        at=datetime.now(UTC),
    )


def original_bytes(letter: DeadLetter) -> bytes:
    """The exact bytes that failed, for inspection or replay."""
    return base64.b64decode(letter.original)
