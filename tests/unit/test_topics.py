"""Topic names in code and in infra/kafka/topics.yaml cannot drift apart."""

from newsflow.infra import load_topics
from shared import topics


def test_code_and_infra_declare_the_same_topics() -> None:
    assert {t.name for t in load_topics()} == set(topics.ALL)


def test_feeds_topic_is_compacted_and_others_are_not() -> None:
    specs = {t.name: t for t in load_topics()}
    assert specs[topics.FEEDS].config.get("cleanup.policy") == "compact"
    for name in (topics.RAW, topics.CLEAN, topics.UNIQUE, topics.DEADLETTER):
        assert specs[name].config.get("cleanup.policy", "delete") == "delete"


def test_every_topic_has_eight_partitions_by_default() -> None:
    assert {t.partitions for t in load_topics()} == {8}


def test_prefix_applies_to_every_name() -> None:
    prefixed = topics.Topics("t1.")
    assert prefixed.all() == tuple("t1." + n for n in topics.ALL)
    assert prefixed.raw == "t1.news.raw"
    assert {t.name for t in load_topics(prefix="t1.")} == set(prefixed.all())
