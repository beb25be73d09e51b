"""`jamsos ops topics|lag`: topics with their offsets, and consumer lag per group and partition."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import typer
from rich.live import Live
from rich.table import Table

from jamsos.cli.common import configured, console, ops_app
from jamsos.cli.errors import Failure
from jamsos.settings import Settings, load_settings
from jamsos_schemas import topics as topic_names

if TYPE_CHECKING:
    from jamsos.adapters.kafka_admin import LagRow, TopicOffsets

WATCH_SECONDS = 2.0


def topics_json(rows: Sequence[TopicOffsets]) -> list[dict[str, Any]]:
    """The contract's `ops topics --json` document."""
    return [
        {
            "topic": t.topic,
            "partitions": [
                {
                    "partition": p.partition,
                    "start_offset": p.start_offset,
                    "end_offset": p.end_offset,
                }
                for p in t.partitions
            ],
            "messages": t.messages,
        }
        for t in rows
    ]


def lag_json(rows: Sequence[LagRow]) -> list[dict[str, Any]]:
    """The contract's `ops lag --json` document."""
    return [
        {
            "group": r.group,
            "topic": r.topic,
            "partition": r.partition,
            "committed": r.committed,
            "end_offset": r.end_offset,
            "lag": r.lag,
        }
        for r in rows
    ]


def _emit_json(document: object) -> None:
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


def _topics_table(rows: Sequence[TopicOffsets]) -> Table:
    table = Table(
        "topic",
        "partitions",
        "messages",
        "offsets per partition (start–end)",
        title="Topics",
    )
    for t in rows:
        spans = " ".join(f"{p.partition}:{p.start_offset}–{p.end_offset}" for p in t.partitions)
        table.add_row(
            t.topic,
            str(len(t.partitions)) if t.exists else "[red]missing[/red]",
            f"{t.messages:,}",
            spans,
        )
    return table


def _lag_table(rows: Sequence[LagRow]) -> Table:
    total = sum(r.lag for r in rows)
    table = Table(
        "group",
        "topic",
        "partition",
        "committed",
        "end offset",
        "lag",
        title="Consumer lag",
        caption=f"total lag {total:,} (committed '-': the group has not committed there yet)",
    )
    for r in rows:
        table.add_row(
            r.group,
            r.topic,
            str(r.partition),
            "-" if r.committed is None else f"{r.committed:,}",
            f"{r.end_offset:,}",
            f"[bold yellow]{r.lag:,}[/bold yellow]" if r.lag else "0",
        )
    return table


def _bootstrap(settings: Settings) -> str:
    assert settings.kafka_bootstrap is not None  # checked by `configured`
    return settings.kafka_bootstrap


async def lag_rows(settings: Settings, groups: Mapping[str, Sequence[str]]) -> list[LagRow]:
    """Lag of the services' consumer groups, and of any other group named with the prefix."""
    from jamsos.adapters.kafka import client_security
    from jamsos.adapters.kafka_admin import consumer_lag

    return await consumer_lag(
        _bootstrap(settings),
        groups,
        prefix=settings.group_prefix,
        security=client_security(settings.kafka_security),
    )


@ops_app.command("topics")
def ops_topics(
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Every topic (contract and internal): partitions, start and end offsets, messages."""
    from jamsos.adapters.kafka import client_security
    from jamsos.adapters.kafka_admin import topic_offsets

    settings = configured(load_settings())
    security = client_security(settings.kafka_security)
    rows = asyncio.run(topic_offsets(_bootstrap(settings), topic_names.ALL_TOPICS, security))
    if as_json:
        _emit_json(topics_json(rows))
    else:
        console.print(_topics_table(rows))


@ops_app.command("lag")
def ops_lag(
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    watch: bool = typer.Option(False, "--watch", help="refresh in place until Ctrl-C"),
) -> None:
    """Every jamsos consumer group: committed offset, end offset and lag per partition."""
    from jamsos.bootstrap import consumer_groups

    settings = configured(load_settings())
    if watch and as_json:
        raise Failure("--watch refreshes the table; use --json without --watch")
    groups = consumer_groups(settings)
    if not watch:
        rows = asyncio.run(lag_rows(settings, groups))
        if as_json:
            _emit_json(lag_json(rows))
        else:
            console.print(_lag_table(rows))
        return

    async def refresh(live: Live) -> None:
        while True:
            live.update(_lag_table(await lag_rows(settings, groups)), refresh=True)
            await asyncio.sleep(WATCH_SECONDS)

    # Ctrl-C ends the watch; the last table stays on the screen.
    with Live(console=console, auto_refresh=False) as live, contextlib.suppress(KeyboardInterrupt):
        asyncio.run(refresh(live))
