"""The intake benchmark reads the billing service's committed batches from its log lines."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from jamsos.bench.ledger_intake import _Batches, machine_cpu_seconds
from jamsos.bench.pipeline import log_tail

LINES = [
    b"running: billing (coverage, runs)\n",
    b"2026-12-03 15:00:00,100 INFO jamsos.workers.runtime batch consumer=billing-ledger"
    b" records=5000 new=5000 repeated=0 outcomes=ENROLLED:5000 ms=90\n",
    b"2026-12-03 15:00:00,150 INFO jamsos.workers.runtime batch consumer=billing-run"
    b" records=1 new=1 repeated=0 outcomes=- ms=3\n",
    b"2026-12-03 15:00:00,250 INFO jamsos.workers.runtime batch consumer=billing-ledger"
    b" records=4000 new=4000 repeated=0 outcomes=ENROLLED:4000 ms=80\n",
]


def test_batch_lines_of_the_ledger_are_counted_and_timed_a_whole_line_at_a_time(
    tmp_path: Path,
) -> None:
    log = tmp_path / "billing.log"
    last = LINES[-1]
    log.write_bytes(b"".join(LINES[:-1]) + last[:40])  # the last line still being written
    seen = _Batches()
    assert seen.read(log)
    assert (seen.records, seen.first_records) == (5000, 5000)
    assert seen.first_at == seen.last_at == dt.datetime(2026, 12, 3, 15, 0, 0, 100_000)
    assert not seen.read(log)  # nothing new and whole
    with log.open("ab") as f:
        f.write(last[40:])
    assert seen.read(log)
    assert (seen.records, seen.first_records) == (9000, 5000)
    assert seen.last_at == dt.datetime(2026, 12, 3, 15, 0, 0, 250_000)


def test_a_missing_log_has_a_tail_that_says_so(tmp_path: Path) -> None:
    assert log_tail(tmp_path / "none.log") == "  (no log)"
    (tmp_path / "a.log").write_text("\n".join(f"line {i}" for i in range(30)))
    assert log_tail(tmp_path / "a.log", lines=2) == "  line 28\n  line 29"


def test_the_machines_cpu_counts_this_process_working() -> None:
    before, mine = machine_cpu_seconds(), time.process_time()
    while time.process_time() - mine < 0.2:  # CPU work, not a wait: the reading must grow
        sum(range(1_000))
    assert machine_cpu_seconds() - before >= 0.15  # /proc/stat counts in ticks of 10 ms
