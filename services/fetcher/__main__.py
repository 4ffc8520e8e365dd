"""Start a fetcher worker: ``python -m services.fetcher``."""

from services.fetcher.app import build
from services.fetcher.settings import FetcherSettings
from shared.kafka import worker_main
from shared.logs import handlers


def main() -> None:
    settings = FetcherSettings()
    app = build(settings)
    worker_main(app, settings.common.log_level, handlers("fetcher", settings.common.log_format))


if __name__ == "__main__":
    main()
