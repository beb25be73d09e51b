"""`jamsos ops health`: broker, database and every running service process's /health."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import typer
from rich.table import Table

from jamsos.cli.common import configured, console, ops_app
from jamsos.settings import load_settings


@ops_app.command("health")
def health(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Check the broker, the database and each running service; exit 1 if any is unhealthy."""
    from jamsos.adapters.kafka import client_security
    from jamsos.health import system_health

    settings = configured(load_settings())
    assert settings.kafka_bootstrap is not None and settings.database_url is not None
    report: dict[str, Any] = asyncio.run(
        system_health(
            settings.kafka_bootstrap,
            settings.database_url,
            client_security(settings.kafka_security),
        )
    )
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        table = Table("check", "status", "detail", title=f"jamsos: {report['status']}")
        for name, check in report["checks"].items():
            colour = "green" if check["status"] == "ok" else "red"
            table.add_row(name, f"[{colour}]{check['status']}[/{colour}]", check["detail"])
        console.print(table)
        if len(report["checks"]) == 2:
            console.print(
                "no running service process is registered (`jamsos run`/`up` with"
                " JAMSOS_HTTP_PORT other than 0 record themselves)"
            )
    raise typer.Exit(0 if report["status"] == "ok" else 1)
