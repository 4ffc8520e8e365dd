"""Start a fetcher worker: ``python -m services.fetcher``."""

from services.fetcher.app import build
from services.fetcher.settings import FetcherSettings
from shared.kafka import worker_main


def main() -> None:
    settings = FetcherSettings()
    app = build(settings)
    worker_main(app, "fetcher", settings.common)


if __name__ == "__main__":
    main()
