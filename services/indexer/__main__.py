"""Start an indexer worker: ``python -m services.indexer``."""

from services.indexer.app import build
from services.indexer.settings import IndexerSettings
from shared.kafka import worker_main
from shared.logs import handlers


def main() -> None:
    settings = IndexerSettings()
    app = build(settings)
    worker_main(app, settings.common.log_level, handlers("indexer", settings.common.log_format))


if __name__ == "__main__":
    main()
