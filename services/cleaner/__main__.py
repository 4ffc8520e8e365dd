"""Start a cleaner worker: ``python -m services.cleaner``."""

from services.cleaner.app import build
from services.cleaner.settings import CleanerSettings
from shared.kafka import worker_main
from shared.logs import handlers


def main() -> None:
    settings = CleanerSettings()
    app = build(settings)
    worker_main(app, settings.common.log_level, handlers("cleaner", settings.common.log_format))


if __name__ == "__main__":
    main()
