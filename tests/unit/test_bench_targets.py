"""`jamsos bench targets`: the issue 11 targets judged from the four runs' documents
(bench/targets.py), and the command's table and JSON on canned documents (no I/O)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from jamsos.bench import targets

MIX = {"valid": 160, "duplicates": 20, "redeliveries": 10, "invalid": 10}
OUTCOMES = {"enrolled": 159, "review": 1, "duplicate": 20, "rejected": 10, "events": 190}


def pipeline(per_s: float = 5_000.0, ratio: float = 0.12) -> dict[str, Any]:
    return {
        "n": 200,
        "mix": dict(MIX),
        "ratio": ratio,
        "baseline": {"msg_per_s": per_s / ratio},
        "pipeline": {"submissions_per_s": per_s, "outcomes": dict(OUTCOMES)},
    }


def billing(first: float = 2.8, intake: float = 40_000.0) -> dict[str, Any]:
    return {
        "participants": 1_000_000,
        "first_run_seconds": first,
        "unchanged_rerun_seconds": 0.002,
        "changed_rerun_seconds": 0.8,
        "exported_lines": 1_000_000,
        "export_seconds": 1.7,
        "export_peak_rss_added_mb": 0.0,
        "intake": {"events_per_s": 64_000.0},
        "service_intake": {
            "service": {
                "events_per_s": intake,
                "us_per_event": 11.0,
                "machine_us_per_event": 20.0,
                "cores": 2,
                "cores_busy": 1.9,
                "ceiling_events_per_s": 100_000.0,
            },
            "floor_consume_and_read": {"events_per_s": 100_000.0},
        },
    }


def backlog(rss: float = 170.0) -> dict[str, Any]:
    return {
        "n": 200,
        "mix": dict(MIX),
        "submissions_per_s": 4_000.0,
        "outcomes": dict(OUTCOMES),
        "peak_rss_mb": {"registration": rss, "verification": 120.0, "billing": 90.0},
        "billing_month": {
            "seconds": 3.9,
            "invoices": [{"kind": "REGULAR", "participants": 159}],
        },
    }


def met(one: Any, two: Any, bill: Any, back: Any) -> list[bool]:
    return [t.met for t in targets.evaluate(one, two, bill, back)]


def test_every_target_met_on_good_figures() -> None:
    assert met(pipeline(), pipeline(4_800.0), billing(), backlog()) == [
        True,  # ratio
        True,  # first run
        False,  # ledger intake 40,000 < 100,000
        True,  # re-runs
        True,  # export
        True,  # RSS
        True,  # two instances
    ]


def test_the_ledger_intake_says_what_the_machines_cores_allow() -> None:
    intake = targets.evaluate(pipeline(), pipeline(), billing(), backlog())[2]
    assert intake.what.startswith("billing ledger intake")
    assert "20.0 µs of the machine's CPU an event (the service 11.0" in intake.measured
    assert "1.9 of 2 cores busy: ≈ 100,000/s if every core were busy" in intake.measured
    short = billing()
    short["service_intake"]["service"].update(
        machine_us_per_event=None, cores_busy=None, ceiling_events_per_s=None
    )
    intake = targets.evaluate(pipeline(), pipeline(), short, backlog())[2]
    assert intake.measured.endswith("the machine's CPU: window too short to read")


def test_each_target_fails_on_its_own_figure() -> None:
    assert not met(pipeline(ratio=0.09), pipeline(), billing(), backlog())[0]
    assert not met(pipeline(), pipeline(), billing(first=3.01), backlog())[1]
    assert met(pipeline(), pipeline(), billing(intake=100_000.0), backlog())[2]
    slow = billing()
    slow["changed_rerun_seconds"] = 1.2
    assert not met(pipeline(), pipeline(), slow, backlog())[3]
    held = billing()
    held["export_peak_rss_added_mb"] = 120.0
    assert not met(pipeline(), pipeline(), held, backlog())[4]
    assert not met(pipeline(), pipeline(), billing(), backlog(rss=310.0))[5]


def test_a_lost_or_doubled_outcome_fails_the_run_it_happened_in() -> None:
    doubled = pipeline()
    doubled["pipeline"]["outcomes"]["duplicate"] = 21
    assert not met(doubled, pipeline(), billing(), backlog())[0]
    # two instances must give exactly what one gave, outcome events included
    extra_event = pipeline()
    extra_event["pipeline"]["outcomes"]["events"] = 191
    assert not met(pipeline(), extra_event, billing(), backlog())[6]
    lost = backlog()
    lost["outcomes"]["enrolled"] = 158
    assert not met(pipeline(), pipeline(), billing(), lost)[5]
    # a doubled outcome event fails the run it happened in, not only the comparison
    assert not met(extra_event, pipeline(), billing(), backlog())[0]
    lost_event = backlog()
    lost_event["outcomes"]["events"] = 189
    assert not met(pipeline(), pipeline(), billing(), lost_event)[5]


def test_two_instances_may_split_valid_submissions_differently_between_enrolled_and_review() -> (
    None
):
    # the order two instances decide a chain of look-alikes in changes which are held
    split = pipeline()
    split["pipeline"]["outcomes"] |= {"enrolled": 158, "review": 2}
    assert met(pipeline(), split, billing(), backlog())[6]


def test_the_command_prints_the_table_and_the_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from jamsos.cli import app
    from jamsos.cli import bench as cli_bench

    runs: list[tuple[int, int, bool]] = []

    def fake_pipeline(n: int, instances: int, is_backlog: bool) -> dict[str, Any]:
        runs.append((n, instances, is_backlog))
        return backlog() if is_backlog else pipeline(5_000.0 if instances == 1 else 4_700.0)

    monkeypatch.setattr(cli_bench, "_pipeline", fake_pipeline)
    monkeypatch.setattr(cli_bench, "_billing", lambda *_: copy.deepcopy(billing()))
    env = {"JAMSOS_STATE_DIR": str(tmp_path), "COLUMNS": "250"}

    shown = CliRunner().invoke(app, ["bench", "targets", "--n", "200"], env=env)
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())  # the table wraps at the console's width
    assert "6 of 7 targets met on this machine" in text
    assert "the verdicts only indicate" in text  # N = 200, not the sizes
    assert runs == [(200, 1, False), (200, 2, False), (1_000_000, 1, True)]

    doc = json.loads(
        CliRunner()
        .invoke(app, ["bench", "targets", "--backlog-n", "500", "--json"], env=env)
        .stdout
    )
    assert [t["met"] for t in doc["targets"]].count(False) == 1
    measured = [t["measured"] for t in doc["targets"]]
    assert "40,000 events/s" in measured[2] and "0.94 times" in measured[6]
    assert "3.90 s for 159" in measured[1]  # the month through the running service
    assert set(doc["runs"]) == {"pipeline", "two_instances", "billing", "backlog"}
    assert runs[-1] == (500, 1, True)
