"""End-to-end tier: the whole pipeline as separate processes, on real Kafka and Elasticsearch.

The ``common`` and ``services`` fixtures live in ``tests/conftest.py``.
"""
