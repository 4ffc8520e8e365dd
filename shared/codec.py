"""The one codec every stage uses: pydantic models as UTF-8 JSON bytes.

Decoding failures become :class:`PoisonMessage`, so a stage never has to know
about pydantic's or the JSON parser's exceptions.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import ValidationError

from shared.exceptions import PoisonMessage
from shared.models import Message

__all__ = ["decode", "encode"]

M = TypeVar("M", bound=Message)

# Longest slice of a validation error kept in a dead letter: enough to see
# which fields failed, short enough to keep the dead-letter topic small.
_MAX_ERROR_CHARS = 2000


def encode(message: Message) -> bytes:
    """Serialise ``message`` to the wire format (compact JSON, UTF-8)."""
    return message.model_dump_json().encode("utf-8")


def decode(model: type[M], data: bytes | None) -> M:
    """Parse and validate ``data`` as ``model``.

    Raises :class:`PoisonMessage` (reason ``invalid-message``) for anything that
    is not a valid message of that model: empty bytes, bad UTF-8, bad JSON,
    a missing or ill-typed field, or an unknown ``schema_version``.
    """
    if not data:
        raise PoisonMessage("invalid-message", f"empty message, expected a {model.__name__}")
    try:
        message = model.model_validate_json(data)
    except ValidationError as exc:
        detail = str(exc)[:_MAX_ERROR_CHARS]
        raise PoisonMessage("invalid-message", f"not a valid {model.__name__}: {detail}") from exc
    expected = model.model_fields["schema_version"].default
    if message.schema_version != expected:
        raise PoisonMessage(
            "unsupported-schema",
            f"{model.__name__} schema_version {message.schema_version}, "
            f"this worker reads {expected}",
        )
    return message
