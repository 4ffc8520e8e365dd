"""Start a cleaner worker: ``python -m services.cleaner``."""

from services.cleaner.app import build
from services.cleaner.settings import CleanerSettings
from shared.kafka import worker_main


def main() -> None:
    settings = CleanerSettings()
    app = build(settings)
    worker_main(app, "cleaner", settings.common)


if __name__ == "__main__":
    main()
