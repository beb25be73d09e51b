"""Least privilege (0008_service_roles.sql): every table's grants are a decision recorded here,
each service runs its real path connected as its own role, and writes outside its part are
refused by PostgreSQL.

A migration that adds a table or sequence adds its row to GRANTS or SEQUENCES (every role
named, "" for none) together with its GRANT statements: test_every_table_has_a_grant_decision
fails until both agree."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from jamsos import billing_requests
from jamsos.adapters import db
from jamsos.domain.period import Period
from jamsos.publishing import publish_raw, publish_submissions
from jamsos.settings import Settings
from jamsos.workers.runtime import Runtime
from jamsos_schemas import topics
from jamsos_schemas.participant import ParticipantTerminationRequestedV1, TerminationReason
from tests.conftest import clean_env, running, wait_until
from tests.integration.roles_support import ROLES, role_pool, role_urls

__all__ = ["role_urls"]  # the fixture
from tests.integration.billing_support import JAN_20, Clock, cli, workers

pytestmark = pytest.mark.integration

S, SI, SIU, SU, SD, SIUD = "S", "SI", "SIU", "SU", "SD", "SIUD"
# table -> role -> privileges: S(ELECT) I(NSERT) U(PDATE) D(ELETE); UPDATE(columns) for a
# column grant. "" is the decision "nothing".
GRANTS: dict[str, dict[str, str]] = {
    "schema_migrations": dict(registration=S, verification=S, billing=S, operator=S, monitor=S),
    "agencies": dict(registration=S, verification=S, billing=S, operator=S, monitor=S),
    "tariffs": dict(registration=S, verification=S, billing=S, operator=S, monitor=""),
    "service_processes": dict(
        registration=SIUD, verification=SIUD, billing=SIUD, operator=S, monitor=S
    ),
    "outbox": dict(
        registration=SIU,
        verification=SIU,
        billing=SIU,
        operator="S UPDATE(failed_at,failure)",
        monitor=S,
    ),
    "dead_letters": dict(
        registration="I SELECT(event_id)",
        verification="I SELECT(event_id)",
        billing="I SELECT(event_id)",
        operator="S UPDATE(discard_reason,discarded_at,replayed_at)",
        monitor="SELECT(discarded_at,event_id,failed_at,replayed_at,source_topic)",
    ),
    "submissions": dict(registration=SIU, verification=SU, billing="", operator=S, monitor=S),
    "nik_claims": dict(registration=SI, verification=SD, billing="", operator=S, monitor=""),
    "participants": dict(registration="", verification=SIU, billing="", operator=S, monitor=S),
    "lookalike_groups": dict(registration="", verification=SIU, billing="", operator=S, monitor=""),
    "termination_requests": dict(
        registration="", verification=SI, billing="", operator=S, monitor=""
    ),
    "inbox": dict(registration="", verification=SI, billing=SI, operator=S, monitor=""),
    "coverage": dict(registration="", verification="", billing=SIU, operator=S, monitor=S),
    "ledger_events": dict(registration="", verification="", billing=SI, operator=S, monitor=""),
    "charges": dict(registration="", verification="", billing=SIU, operator=S, monitor=S),
    # written by the owner's functions only (migration 0015); the operator reads every table
    "charge_partitions_open": dict(
        registration="", verification="", billing="", operator=S, monitor=""
    ),
    "ledger_changes": dict(registration="", verification="", billing=SU, operator=S, monitor=""),
    "billed_periods": dict(registration="", verification="", billing=SIU, operator=S, monitor=""),
    "coverage_deletions": dict(registration="", verification="", billing=S, operator=S, monitor=""),
    "billing_runs": dict(registration="", verification="", billing=SIU, operator=S, monitor=S),
    "invoices": dict(
        registration="",
        verification="",
        billing=SI,
        operator="S UPDATE(paid_at,status)",
        monitor=S,
    ),
    "invoice_lines": dict(registration="", verification="", billing=SI, operator=S, monitor=S),
    "payments": dict(registration="", verification="", billing=S, operator=SI, monitor=S),
    "audit_log": dict(registration="", verification="I", billing="", operator=SI, monitor=""),
    "capacity": dict(registration="", verification=SIU, billing="", operator=S, monitor=""),
}
SEQUENCES: dict[str, dict[str, str]] = {
    "outbox_id_seq": dict(
        registration="USAGE", verification="USAGE", billing="USAGE", operator="", monitor=""
    ),
    "membership_serial": dict(
        registration="", verification="USAGE", billing="", operator="", monitor=""
    ),
    "charges_charge_id_seq": dict(
        registration="", verification="", billing="USAGE", operator="", monitor=""
    ),
    "payments_payment_id_seq": dict(
        registration="", verification="", billing="", operator="USAGE", monitor=""
    ),
    "audit_log_audit_id_seq": dict(
        registration="", verification="USAGE", billing="", operator="USAGE", monitor=""
    ),
}
LETTERS = {"S": "SELECT", "I": "INSERT", "U": "UPDATE", "D": "DELETE"}


def _expected(decision: str) -> set[str]:
    found: set[str] = set()
    for word in decision.split():
        if "(" in word:
            found.add(word)
        else:
            found |= {LETTERS[c] for c in word}
    return found


async def _granted(conn: asyncpg.Connection, role: str, table: str) -> set[str]:
    found = {
        p
        for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
        if await conn.fetchval("SELECT has_table_privilege($1, $2, $3)", role, table, p)
    }
    columns = await conn.fetch(
        "SELECT (aclexplode(attacl)).privilege_type AS p, (aclexplode(attacl)).grantee AS g,"
        " attname FROM pg_attribute WHERE attrelid = $1::regclass AND attacl IS NOT NULL",
        table,
    )
    oid = await conn.fetchval("SELECT oid FROM pg_roles WHERE rolname = $1", role)
    by_privilege: dict[str, list[str]] = {}
    for row in columns:
        if row["g"] == oid and row["p"] not in found:
            by_privilege.setdefault(row["p"], []).append(row["attname"])
    found |= {f"{p}({','.join(sorted(cols))})" for p, cols in by_privilege.items()}
    return found


async def test_every_table_has_a_grant_decision(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        tables = {
            r["relname"]
            for r in await conn.fetch(
                "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
                " AND relkind IN ('r', 'p', 'v', 'm')"
            )
        }
        sequences = {
            r["relname"]
            for r in await conn.fetch(
                "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
                " AND relkind = 'S'"
            )
        }
        assert tables == set(GRANTS), "a table without a decision in GRANTS (or one gone)"
        assert sequences == set(SEQUENCES), "a sequence without a decision in SEQUENCES"
        wrong = []
        for table, decisions in GRANTS.items():
            assert set(decisions) == set(ROLES), table
            for role, decision in decisions.items():
                granted = await _granted(conn, f"jamsos_{role}", table)
                if granted != _expected(decision):
                    wrong.append(f"{table} {role}: granted {sorted(granted)}, decided {decision!r}")
        for sequence, decisions in SEQUENCES.items():
            assert set(decisions) == set(ROLES), sequence
            for role, decision in decisions.items():
                granted = {
                    p
                    for p in ("USAGE", "SELECT", "UPDATE")
                    if await conn.fetchval(
                        "SELECT has_sequence_privilege($1, $2, $3)", f"jamsos_{role}", sequence, p
                    )
                }
                if granted != set(decision.split()):
                    wrong.append(
                        f"{sequence} {role}: granted {sorted(granted)}, decided {decision!r}"
                    )
        assert not wrong, "\n".join(wrong)
        for role in ROLES:
            attributes = await conn.fetchrow(
                "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls"
                " FROM pg_roles WHERE rolname = $1",
                f"jamsos_{role}",
            )
            assert attributes is not None and not any(attributes.values()), role
            assert not await conn.fetchval(
                "SELECT has_schema_privilege($1, 'public', 'CREATE')", f"jamsos_{role}"
            )


async def test_each_service_runs_as_its_role_and_the_operator_bills_and_pays(
    settings: Settings, pool: asyncpg.Pool, role_urls: dict[str, str]
) -> None:
    payloads = workers({"DISDAG": 3, "DISHUB": 2}, JAN_20)
    duplicate = {**payloads[0], "agency_code": "DINSOS", "submission_id": "DINSOS-DUP"}
    invalid = {**payloads[1], "submission_id": "DISHUB-BAD", "worker": {"nik": "12"}}
    as_role = {r: replace(settings, database_url=u) for r, u in role_urls.items()}
    async with pool.acquire() as owner:  # what the owner's `jamsos db migrate` does
        await db.sync_agencies(owner, settings.policy.agencies)
    async with contextlib.AsyncExitStack() as stack:
        for service in ("registration", "verification", "billing"):
            role_settings = as_role[service]
            runtime = Runtime(role_settings, clock=Clock(JAN_20))
            # with /health, so that the heartbeat row and the monitor's checks run as the role
            await stack.enter_async_context(running(role_settings, [service], runtime, http_port=0))
        await publish_submissions(settings, [*payloads, duplicate, invalid])
        await publish_raw(settings, topics.SUBMITTED, [(None, b"\xff not json")])

        async def decided() -> bool:
            return bool(
                await pool.fetchval(
                    "SELECT count(*) FILTER (WHERE status <> 'RECEIVED') = 7 FROM submissions"
                )
                and await pool.fetchval("SELECT count(*) FROM dead_letters") == 1
                and await pool.fetchval("SELECT count(*) FROM service_processes") == 3
            )

        await wait_until(decided, what="every outcome, the dead letter and three heartbeats")
        async with role_pool(role_urls["operator"]) as operator:
            await billing_requests.wait_ledger(operator)
            leaver = payloads[2]["worker"]["nik"]
            await billing_requests.terminate(
                as_role["operator"],
                operator,
                [
                    ParticipantTerminationRequestedV1(
                        request_id="T-ROLES-1",
                        agency_code="DISDAG",
                        nik=leaver,
                        reason=TerminationReason.WITHDRAWN,
                        effective_date=dt.date(2025, 3, 10),
                    )
                ],
            )
            await billing_requests.wait_ledger(operator)
            result = await billing_requests.bill(as_role["operator"], operator, Period(2025, 2))
        assert result.outcome == "DONE", result.detail
        assert sum(i.participants for i in result.invoices) == 5

        async def published() -> bool:
            n = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            return bool(n == 0)

        await wait_until(published, what="the relays to publish every outbox row")
    statuses = dict(await pool.fetch("SELECT submission_id, status FROM submissions"))
    assert statuses["DINSOS-DUP"] == "DUPLICATE" and statuses["DISHUB-BAD"] == "REJECTED"

    invoice = result.invoices[0]
    for args in (
        ("reconcile",),
        ("report", "--json"),
        ("participant", "show", leaver, "--json"),
        ("ops", "dlq", "list"),
        (
            "invoice",
            "pay",
            invoice.invoice_no,
            "--amount",
            str(invoice.amount),
            "--reference",
            "TRF-ROLES-1",
        ),
    ):
        done = await cli(as_role["operator"], *args)
        assert done.exit_code == 0, (args, done.output)
    assert (
        await pool.fetchval("SELECT status FROM invoices WHERE invoice_no = $1", invoice.invoice_no)
        == "PAID"
    )
    paid = await pool.fetchrow("SELECT actor, action, subject, reason FROM audit_log")
    assert dict(paid) == {
        "actor": settings.actor,
        "action": "invoice.pay",
        "subject": invoice.invoice_no,
        "reason": "TRF-ROLES-1",
    }
    for args in (("report", "--json"), ("ops", "health", "--json")):
        done = await cli(as_role["monitor"], *args)
        assert done.exit_code in (0, 1), (args, done.output)  # 1: health found no live service
        assert "error:" not in done.output, (args, done.output)


FORBIDDEN: dict[str, list[str]] = {
    "registration": [
        "INSERT INTO invoices (invoice_no, payer_code, period, seq, kind, request_id, issued_at,"
        " participants, jkk, jkm, amount) VALUES ('X', 'P', '2025-02', 1, 'REGULAR', 'r', now(),"
        " 0, 0, 0, 0)",
        "UPDATE participants SET status = 'TERMINATED'",
        "DELETE FROM submissions",
        "UPDATE dead_letters SET replayed_at = now()",
        "DELETE FROM outbox",
    ],
    "verification": [
        "UPDATE charges SET amount = 0",
        "INSERT INTO payments (invoice_no, amount, reference, paid_on, partial)"
        " VALUES ('X', 1, 'r', '2025-01-01', false)",
        "DELETE FROM participants",
        "SELECT value FROM dead_letters",
    ],
    "billing": [
        "UPDATE participants SET agency_code = 'DISDAG'",
        "UPDATE submissions SET status = 'ENROLLED'",
        "UPDATE invoices SET status = 'PAID', paid_at = now()",
        "DELETE FROM charges",
        "INSERT INTO agencies (code, name, sector, payer_code, funding_source) VALUES"
        " ('X', 'X', 'X', 'X', 'X')",
    ],
    "operator": [
        "DELETE FROM payments",
        "UPDATE charges SET amount = 0",
        "UPDATE invoices SET amount = 0",
        "UPDATE participants SET nik = '0'",
        "DELETE FROM dead_letters",
    ],
    "monitor": [
        "UPDATE invoices SET status = 'PAID', paid_at = now()",
        "SELECT nik FROM nik_claims",
        "SELECT value FROM dead_letters",
        "DELETE FROM service_processes",
    ],
}
EVERYONE = ["CREATE TABLE sneaky (x int)", "DROP TABLE payments", "TRUNCATE outbox"]


@pytest.mark.parametrize("role", ROLES)
async def test_a_role_is_refused_what_its_service_does_not_do(
    role: str, role_urls: dict[str, str]
) -> None:
    conn = await db.connect(role_urls[role])
    try:
        for statement in FORBIDDEN[role] + EVERYONE:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
    finally:
        await conn.close()


LOGINS = Path(__file__).resolve().parents[2] / "deploy" / "postgres-logins.sh"


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
async def test_the_compose_logins_script_gives_each_role_one_login(
    database_url: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    for role in ROLES:
        (tmp_path / f"postgres_password_{role}").write_text(f"pw-{role}'\\x\n", "utf-8")
    url = urlsplit(database_url)
    env = clean_env(
        SECRETS_DIR=str(tmp_path),
        PGHOST=url.hostname or "127.0.0.1",
        PGPORT=str(url.port or 5432),
        PGUSER=url.username or "postgres",
        PGDATABASE=url.path.lstrip("/"),
    )

    def logins() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(LOGINS)], env=env, capture_output=True, text=True)

    for _ in range(2):  # again: the logins exist, the passwords are set again
        done = await asyncio.to_thread(logins)
        assert done.returncode == 0, done.stderr
    for role in ROLES:
        member = await pool.fetchval(
            "SELECT rolcanlogin AND pg_has_role(rolname, $2, 'MEMBER') FROM pg_roles"
            " WHERE rolname = $1",
            f"jamsos_{role}_login",
            f"jamsos_{role}",
        )
        assert member, role
    (tmp_path / "postgres_password_monitor").unlink()
    done = await asyncio.to_thread(logins)
    assert done.returncode == 1 and "postgres_password_monitor is missing" in done.stderr


async def test_a_service_role_on_an_unmigrated_database_says_so_in_one_line(
    database_url: str, pool: asyncpg.Pool, role_urls: dict[str, str]
) -> None:
    await pool.execute("DELETE FROM schema_migrations WHERE version = '0008_service_roles'")
    conn = await db.connect(role_urls["registration"])
    try:
        with pytest.raises(db.NotMigrated, match=r"0008_service_roles.*jamsos db migrate"):
            await db.migrate(conn)
    finally:
        await conn.close()
