"""Start an indexer worker: ``python -m services.indexer``."""

from services.indexer.app import build
from services.indexer.settings import IndexerSettings
from shared.kafka import worker_main


def main() -> None:
    settings = IndexerSettings()
    app = build(settings)
    worker_main(app, "indexer", settings.common)


if __name__ == "__main__":
    main()
