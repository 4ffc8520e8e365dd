"""Start a dedup worker: ``python -m services.dedup``."""

from services.dedup.app import build
from services.dedup.settings import DedupSettings
from shared.kafka import worker_main
from shared.logs import handlers


def main() -> None:
    settings = DedupSettings()
    app = build(settings)
    worker_main(app, settings.common.log_level, handlers("dedup", settings.common.log_format))


if __name__ == "__main__":
    main()
