"""Start a dedup worker: ``python -m services.dedup``."""

from services.dedup.app import build
from services.dedup.settings import DedupSettings
from shared.kafka import worker_main


def main() -> None:
    settings = DedupSettings()
    app = build(settings)
    worker_main(app, "dedup", settings.common)


if __name__ == "__main__":
    main()
