"""The subcommands of ``newsflow``, one module per group."""

from __future__ import annotations

from shared.settings import CommonSettings


def common_settings() -> CommonSettings:
    """The settings every subcommand starts from (``NEWSFLOW_*`` variables)."""
    return CommonSettings()
