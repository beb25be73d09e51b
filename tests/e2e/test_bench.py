"""`jamsos bench --json` and `jamsos bench billing --json` on tiny inputs: the document's shape,
positive figures and outcome counts that match the feed's mix (timings are never checked)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import clean_env


def _bench(pg_admin_dsn: str, cwd: Path, *args: str, **env: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "jamsos", "bench", *args, "--json"],
        env=clean_env(JAMSOS_DATABASE_URL=pg_admin_dsn, JAMSOS_STATE_DIR=str(cwd / "state"), **env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_bench_pipeline_small_feed_reports_every_figure_and_outcomes_match_mix(
    pg_admin_dsn: str, tmp_path: Path
) -> None:
    # from a shell set up for the production cluster: the bench's own tansu has no SASL, and
    # neither the bench nor the services it starts may use these there
    production = {
        "JAMSOS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "JAMSOS_KAFKA_SASL_USERNAME": "jamsos-registration",
        "JAMSOS_KAFKA_SASL_PASSWORD": "secret",
    }
    doc = _bench(pg_admin_dsn, tmp_path, "--n", "200", **production)

    assert doc["n"] == 200
    assert doc["mix"] == {"valid": 160, "duplicates": 20, "redeliveries": 10, "invalid": 10}
    assert doc["baseline"]["seconds"] > 0 and doc["baseline"]["msg_per_s"] > 0
    pipeline = doc["pipeline"]
    for key in ("seconds", "submissions_per_s", "publish_seconds", "ledger_seconds"):
        assert pipeline[key] > 0, key
    assert 0 < pipeline["latency_p50_s"] <= pipeline["latency_p99_s"] <= pipeline["latency_max_s"]
    assert doc["ratio"] > 0
    assert set(pipeline["peak_rss_mb"]) == {"registration", "verification", "billing"}
    assert all(mb > 0 for mb in pipeline["peak_rss_mb"].values())
    # one outcome per distinct submission: redeliveries add none
    assert pipeline["outcomes"] == {
        "enrolled": 160,
        "duplicate": 20,
        "rejected": 10,
        "review": 0,
        "events": 190,
    }


def test_bench_billing_small_ledger_reports_every_step_with_exact_invoices(
    pg_admin_dsn: str, tmp_path: Path
) -> None:
    # the service takes the 12,000 events 1,000 a batch (its window: the batches after its first)
    doc = _bench(
        pg_admin_dsn,
        tmp_path,
        "billing",
        "--participants",
        "500",
        "--events",
        "12000",
        JAMSOS_LEDGER_BATCH_SIZE="1000",
    )

    assert doc["participants"] == 500 and doc["changed"] == 5
    for key in (
        "load_seconds",
        "first_run_seconds",
        "unchanged_rerun_seconds",
        "changed_rerun_seconds",
        "export_seconds",
        "reconcile_seconds",
    ):
        assert doc[key] > 0, key
    assert doc["runs"] == {
        "first": {"ISSUED": 1},
        "unchanged": {"NOTHING_NEW": 1},
        "changed": {"ISSUED": 1},
    }
    assert [(i["kind"], i["participants"], i["amount"]) for i in doc["invoices"]] == [
        ("REGULAR", 500, 500 * 16_800),
        ("SUPPLEMENTARY", 5, 5 * 16_800),
        ("CREDIT", -5, -5 * 16_800),
    ]
    assert doc["exported_lines"] == 500
    assert doc["mismatches"] == 0
    intake = doc["service_intake"]
    assert intake["events"] == 12_000 and intake["ledger_batch_size"] == 1_000
    for part in ("floor_consume", "floor_consume_and_read", "service"):
        assert intake[part]["events_per_s"] > 0 and intake[part]["us_per_event"] >= 0, part
    # timed from the service's first committed batch to its last: never all 12,000 events
    assert 0 < intake["service"]["window_events"] < 12_000
    assert intake["service"]["window_seconds"] > 0
    assert intake["service"]["peak_rss_mb"] > 0 and intake["ratio"] > 0
    # the whole machine's CPU, unless the window was too short for a reading (10 ms ticks)
    machine = intake["service"]["machine_us_per_event"]
    assert intake["service"]["cores"] >= 1
    assert machine is None or (machine > 0 and intake["service"]["ceiling_events_per_s"] > 0)


def test_bench_billing_refuses_too_few_events_to_time_the_service(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "jamsos", "bench", "billing", "--events", "9999"],
        env=clean_env(JAMSOS_STATE_DIR=str(tmp_path / "state")),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "JAMSOS_LEDGER_BATCH_SIZE (5,000)" in result.stderr
    assert "Traceback" not in result.stderr


def test_bench_backlog_drains_then_bills_the_month_of_everyone_enrolled(
    pg_admin_dsn: str, tmp_path: Path
) -> None:
    doc = _bench(pg_admin_dsn, tmp_path, "--backlog", "--n", "200")

    assert doc["n"] == 200 and doc["enrolled"] == 160
    assert doc["outcomes"] == {
        "enrolled": 160,
        "duplicate": 20,
        "rejected": 10,
        "review": 0,
        "events": 190,
    }
    for key in ("publish_seconds", "drain_seconds", "ledger_seconds", "submissions_per_s"):
        assert doc[key] > 0, key
    assert set(doc["peak_rss_mb"]) == {"registration", "verification", "billing"}
    month = doc["billing_month"]
    assert month["outcome"] == "DONE" and month["seconds"] > 0
    # one REGULAR invoice for the 160 enrolled, at the 2025 tariff
    assert [(i["kind"], i["participants"], i["amount"]) for i in month["invoices"]] == [
        ("REGULAR", 160, 160 * 16_800)
    ]
