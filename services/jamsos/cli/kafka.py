"""`jamsos kafka acls` / `jamsos kafka secrets`: the SCRAM users and ACLs of the production
compose file, generated from the code (jamsos/kafka_acls.py; README, "Kafka security")."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from jamsos.cli.common import app, write_secret_files
from jamsos.settings import load_settings

kafka_app = typer.Typer(no_args_is_help=True, help="Kafka users and ACLs (production).")
app.add_typer(kafka_app, name="kafka")


@kafka_app.command("acls")
def kafka_acls_script() -> None:
    """Print the script that creates every SCRAM user and ACL (deploy/kafka-security.sh)."""
    from jamsos import kafka_acls

    sys.stdout.write(kafka_acls.script(load_settings()))


@kafka_app.command("secrets")
def kafka_secrets(
    out: Path = typer.Option(Path("secrets"), "--out", file_okay=False, help="secrets directory"),
) -> None:
    """Write a random password (mode 0600) for every principal that has none in OUT yet;
    existing files are kept. Give each agency its own password, nothing else."""
    from jamsos import kafka_acls

    principals = kafka_acls.principals(load_settings())
    write_secret_files(out, {kafka_acls.secret_name(p): p for p in principals})
