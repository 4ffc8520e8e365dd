"""The codec: models to bytes and back; anything else becomes a PoisonMessage."""

from datetime import UTC, datetime

import pytest

from shared import codec
from shared.deadletter import dead_letter, original_bytes
from shared.exceptions import PoisonMessage
from shared.models import FeedSource, RawArticle


def _raw() -> RawArticle:
    return RawArticle(
        id="a1",
        source_id="s1",
        source_kind="rss",
        url="http://x.test/1",
        final_url="http://x.test/1",
        fetched_at=datetime(2026, 1, 2, tzinfo=UTC),
        body="<p>hé</p>",
    )


def test_round_trip_keeps_every_field() -> None:
    raw = _raw()
    assert codec.decode(RawArticle, codec.encode(raw)) == raw


@pytest.mark.parametrize("data", [b"", None, b"\xff\xfe", b"{", b"[]", b'{"id": "a1"}'])
def test_undecodable_input_is_poison(data: bytes | None) -> None:
    with pytest.raises(PoisonMessage) as info:
        codec.decode(RawArticle, data)
    assert info.value.reason == "invalid-message"


def test_unknown_field_is_refused() -> None:
    data = codec.encode(_raw()).replace(b'"id"', b'"surprise":1,"id"', 1)
    with pytest.raises(PoisonMessage):
        codec.decode(RawArticle, data)


def test_unknown_schema_version_is_poison_with_its_own_reason() -> None:
    data = codec.encode(FeedSource(id="s", kind="rss", url="http://x.test/", schema_version=2))
    with pytest.raises(PoisonMessage) as info:
        codec.decode(FeedSource, data)
    assert info.value.reason == "unsupported-schema"


def test_messages_are_frozen() -> None:
    with pytest.raises(ValueError):
        _raw().id = "other"  # type: ignore[misc]


def test_dead_letter_keeps_the_original_bytes_exactly() -> None:
    original = b"\x00\x01 not json \xff"
    letter = dead_letter(
        "cleaner",
        PoisonMessage("invalid-message", "bad"),
        original,
        topic="news.raw",
        partition=3,
        offset=17,
        key=b"k",
    )
    again = codec.decode(type(letter), codec.encode(letter))
    assert original_bytes(again) == original
    assert (again.stage, again.reason, again.partition, again.offset) == (
        "cleaner",
        "invalid-message",
        3,
        17,
    )


def test_poison_message_survives_pickling() -> None:
    # The cleaner's extraction children send it back to their worker pickled.
    import pickle

    copy = pickle.loads(pickle.dumps(PoisonMessage("no-text", "nothing left")))
    assert isinstance(copy, PoisonMessage)
    assert copy.reason == "no-text" and str(copy) == "no-text: nothing left"
