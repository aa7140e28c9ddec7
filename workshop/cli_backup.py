"""Flask commands for backing up and restoring one workshop (see docs/reliability.md)."""

from __future__ import annotations

import json

import click
from flask import Flask

from .domain.backup import export_workshop, import_workshop
from .domain.errors import DomainError
from .domain.workshops import get_workshop


def register_backup_cli(app: Flask) -> None:
    @app.cli.group()
    def backup():
        """Back up and restore workshops as JSON documents."""

    @backup.command("export")
    @click.argument("code")
    @click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
                  help="Write to this file instead of standard output.")
    def backup_export(code: str, output: str | None):
        """Write workshop CODE as a JSON backup document."""
        try:
            document = export_workshop(get_workshop(code))
        except DomainError as error:
            raise click.ClickException(error.message) from None
        text = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True)
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
            click.echo(f"Wrote {document['workshop']['code']} to {output}", err=True)
        else:
            click.echo(text)

    @backup.command("import")
    @click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
    def backup_import(source):
        """Restore a workshop from a JSON backup document (a file, or - for standard input)."""
        try:
            document = json.load(source)
        except json.JSONDecodeError as error:
            raise click.ClickException(f"Not JSON: {error}") from None
        try:
            workshop = import_workshop(document)
        except DomainError as error:
            raise click.ClickException(error.message) from None
        click.echo(f"Restored workshop {workshop.code}: {workshop.title}", err=True)
