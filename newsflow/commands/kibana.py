"""``newsflow kibana``: Kibana setup for the compose file."""

from __future__ import annotations

import click

from newsflow.commands import common_settings as _common


@click.group()
def kibana() -> None:
    """Kibana setup (used by the compose file's init jobs)."""


@kibana.command("set-system-password")
def kibana_set_password() -> None:
    """Set the kibana_system user's password from KIBANA_PASSWORD."""
    from newsflow.kibana import KibanaSettings, set_system_password

    settings = KibanaSettings()
    if settings.kibana_password is None:
        raise click.ClickException("KIBANA_PASSWORD is not set")
    set_system_password(_common(), settings.kibana_password)
    click.echo("kibana_system password set")


@kibana.command("import")
def kibana_import() -> None:
    """Import the saved objects of infra/kibana into Kibana (overwrites)."""
    from newsflow.kibana import KibanaSettings, import_saved_objects

    count = import_saved_objects(_common(), KibanaSettings().newsflow_kibana_url)
    click.echo(f"imported {count} saved objects")
