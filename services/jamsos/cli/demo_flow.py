"""What `jamsos demo` runs (cli/demo.py imports it when the command runs): the whole flow on a
synthetic cohort, embedded broker, fresh database."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import time
from dataclasses import dataclass, replace
from typing import Any

from jamsos import bootstrap, synthetic
from jamsos.adapters import demo_queries
from jamsos.cli.common import console
from jamsos.cli.demo_billing import bill_demo_months, reconcile_exit_code
from jamsos.cli.report import print_report
from jamsos.domain.policy import Policy
from jamsos.publishing import publish_model, publish_raw, publish_submissions, submission_key
from jamsos.reporting import report_data
from jamsos.settings import Settings
from jamsos.workers.runtime import Runtime, jakarta_now
from jamsos_schemas import topics
from jamsos_schemas.registration import RegistrationReviewDecidedV1

AGENCIES = ("DISDAG", "DISHUB", "BPBD", "DINSOS", "DISNAKERPERINKOP", "DISPERTANPANGAN")
DEMO_QUOTA = {"BPBD": 40}  # shows QUOTA_EXCEEDED: BPBD proposes more than its quota


@dataclass
class Cohort:
    """What the demo publishes and what it expects back."""

    messages: list[tuple[bytes | None, bytes]]
    identities: set[tuple[str, str]]
    dead_letters: int


def _policy(policy: Policy) -> Policy:
    agencies = tuple(replace(a, quota=DEMO_QUOTA.get(a.code, a.quota)) for a in policy.agencies)
    return replace(policy, agencies=agencies)


def build_cohort(size: int, now: dt.datetime, seed: int = 2025) -> Cohort:
    """Valid workers from six agencies plus every kind of problem an agency list can have."""
    rng = random.Random(seed)
    today = now.date()
    payloads: list[dict[str, Any]] = []
    serial = 0

    def person(**kw: Any) -> dict[str, Any]:
        nonlocal serial
        serial += 1
        return synthetic.worker(rng, serial, today, **kw)

    def add(agency: str, body: dict[str, Any], tag: str) -> dict[str, Any]:
        payload = synthetic.submission(
            agency, f"{agency}-DEMO-{tag}-{len(payloads):05d}", body, now
        )
        payloads.append(payload)
        return payload

    others = [a for a in AGENCIES if a not in DEMO_QUOTA]
    valid = [add(others[i % len(others)], person(), "OK") for i in range(size)]
    valid += [add("BPBD", person(), "OK") for _ in range(DEMO_QUOTA["BPBD"] + 5)]
    rng.shuffle(valid)
    for original in valid[:25]:  # the same NIK proposed by another agency
        other = AGENCIES[(AGENCIES.index(original["agency_code"]) + 1) % len(AGENCIES)]
        add(other, dict(original["worker"]), "DUP")
    for _ in range(10):  # serial 0000
        w = person()
        w["nik"] = w["nik"][:12] + "0000"
        add(rng.choice(AGENCIES), w, "NIK")
    for _ in range(8):  # NIK date part disagrees with birth date
        w = person()
        w["birth_date"] = (
            dt.date.fromisoformat(w["birth_date"]) + dt.timedelta(days=3)
        ).isoformat()
        add(rng.choice(AGENCIES), w, "MISMATCH")
    for _ in range(15):  # lives in Semarang
        w = person()
        w["address"] = {"village_code": "3374011001", "street": "Semarang"}
        add(rng.choice(AGENCIES), w, "REGION")
    for age in [16] * 10 + [70] * 4:
        add(rng.choice(AGENCIES), person(age=age), "AGE")
    for _ in range(2):  # everything wrong at once
        w = person(age=15)
        w["nik"] = w["nik"][:12] + "0000"
        w["address"] = {"village_code": "3374011001", "street": None}
        add("DINSOS", w, "MANY")
    bad_desil, bad_sex, no_job = person(), person(), person()
    bad_desil["desil"] = 11
    bad_sex["sex"] = "X"
    del no_job["occupation"]
    for w in (bad_desil, bad_sex, no_job):
        add("DISDAG", w, "SCHEMA")
    for _ in range(2):
        add("DISPAR", person(), "AGENCY")

    messages = [(submission_key(p), json.dumps(p).encode()) for p in payloads]
    messages += [messages[i] for i in range(0, 40, 2)]  # resubmissions: no new outcome
    reused = dict(payloads[1], worker={**payloads[1]["worker"], "phone": "+6280000000000"})
    messages.append((submission_key(reused), json.dumps(reused).encode()))  # SUBMISSION_ID_REUSED
    messages.append((None, b"\x00\x01 not json"))
    messages.append((None, json.dumps({"worker": {"nik": "3319010101900001"}}).encode()))
    rng.shuffle(messages)
    identities = {(p["agency_code"], p["submission_id"]) for p in payloads}
    return Cohort(messages, identities, dead_letters=3)


async def wait_for(condition: Any, timeout: float, what: str) -> None:
    """Poll `condition()` until true, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def _after_billing(settings: Settings, runtime: Runtime) -> None:
    """A deceased worker proposed again, and a look-alike under a mistyped NIK that an operator
    resolves as a duplicate."""
    pool = runtime.pool
    deceased_worker = await demo_queries.deceased_worker(pool)
    twin = await demo_queries.first_active_worker(pool)
    assert deceased_worker is not None and twin is not None
    now = jakarta_now()
    deceased = synthetic.submission("DINSOS", "DINSOS-DEMO-AGAIN-00001", deceased_worker, now)
    lookalike_worker = dict(twin)
    nik = lookalike_worker["nik"]
    lookalike_worker["nik"] = nik[:12] + ("0001" if nik[12:] != "0001" else "0002")
    lookalike_worker["full_name"] = lookalike_worker["full_name"].upper()
    lookalike = synthetic.submission("DISHUB", "DISHUB-DEMO-TYPO-00001", lookalike_worker, now)
    await publish_submissions(settings, [deceased, lookalike])

    async def status(sid: str) -> str | None:
        return await demo_queries.decided_status(pool, sid)

    async def both_decided() -> bool:
        return all(
            [await status(deceased["submission_id"]), await status(lookalike["submission_id"])]
        )

    await wait_for(both_decided, 60, "the deceased and look-alike submissions")
    codes = await demo_queries.rejection_codes(pool, deceased["submission_id"])
    console.print(
        f"deceased worker proposed again → {await status(deceased['submission_id'])}"
        f" {codes}; look-alike under NIK {lookalike_worker['nik']}"
        f" → {await status(lookalike['submission_id'])}",
        highlight=False,
    )
    decision = RegistrationReviewDecidedV1(
        agency_code="DISHUB",
        submission_id=lookalike["submission_id"],
        decision="DUPLICATE",
        decided_by="demo-operator",
        decided_at=jakarta_now(),
    )
    await publish_model(settings, topics.REVIEW_DECIDED, lookalike_worker["nik"], decision)

    async def resolved() -> bool:
        return await status(lookalike["submission_id"]) == "DUPLICATE"

    await wait_for(resolved, 60, "the review decision")
    console.print("operator decided DUPLICATE → registration.duplicate", highlight=False)


async def _run(settings: Settings, size: int) -> float:
    started = time.monotonic()
    await bootstrap.prepare(settings, fresh_database=True)
    runtime = Runtime(settings)
    app, broker = bootstrap.build_app(settings, list(bootstrap.SERVICES), runtime)
    await app.start()
    try:
        await bootstrap.wait_assigned(broker)
        console.print(f"services up in {time.monotonic() - started:.1f}s", highlight=False)
        cohort = build_cohort(size, jakarta_now())
        t0 = time.monotonic()
        await publish_raw(settings, topics.SUBMITTED, cohort.messages)

        async def settled() -> bool:
            decided, dead, unpublished = await demo_queries.settled_counts(runtime.pool)
            return (
                decided == len(cohort.identities)
                and dead == cohort.dead_letters
                and unpublished == 0
            )

        await wait_for(settled, 180, "every submission's outcome")
        elapsed = time.monotonic() - t0
        console.print(
            f"{len(cohort.messages)} messages ({len(cohort.identities)} distinct submissions)"
            f" decided and published in {elapsed:.2f}s"
            f" = {len(cohort.messages) / elapsed:,.0f} msg/s",
            highlight=False,
        )
        await bill_demo_months(settings, runtime)
        await _after_billing(settings, runtime)
    finally:
        await app.stop()
    return time.monotonic() - started


def run_demo(settings: Settings, size: int) -> int:
    """Start embedded infrastructure, run the demo, print the report; returns the exit code."""
    settings = replace(settings, policy=_policy(settings.policy), group_prefix="jamsos-demo")
    with bootstrap.session(settings, "demo", database="jamsos_demo") as ready:
        console.print(
            f"broker {ready.kafka_bootstrap}; database {ready.database_url}", highlight=False
        )
        seconds = asyncio.run(_run(ready, size))
        print_report(asyncio.run(report_data(ready)))
        console.print(f"demo finished in {seconds:.2f}s", highlight=False)
        return asyncio.run(reconcile_exit_code(ready))
