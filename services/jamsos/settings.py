"""The only reader of JAMSOS_* variables and the config file; yields a frozen Settings."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from jamsos.domain.letterhead import (
    Addressee,
    Issuer,
    Letterhead,
    PaymentAccount,
    PaymentMethod,
    Signatory,
)
from jamsos.domain.policy import Agency, CoverageStartRule, Policy

_TRUE = {"1", "true", "yes", "on"}
ENDPOINTS_FILE = "endpoints.json"  # written by `jamsos up` / `jamsos demo` in the state dir


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message says which and what to do."""


def agency_key_files(directory: Path) -> dict[str, list[str]]:
    """The PEM text of every `CODE.pub` / `CODE.<anything>.pub` in `directory`, by agency
    code (CONTRACT.md, "Agency signatures (v1)"); the keys are parsed where they are used."""
    keys: dict[str, list[str]] = {}
    try:
        paths = sorted(p for p in directory.iterdir() if p.name.endswith(".pub") and p.is_file())
        for path in paths:
            keys.setdefault(path.name.split(".", 1)[0], []).append(path.read_text("ascii"))
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"JAMSOS_AGENCY_KEYS_DIR={directory}: cannot read it ({error})") from None
    return keys


def _public_keys(doc: Mapping[str, Any]) -> tuple[str, ...]:
    raw = doc.get("public_keys") or ()
    return tuple(str(k) for k in ([raw] if isinstance(raw, str) else raw))


@dataclass(frozen=True)
class Recorded:
    """The endpoints the last `jamsos up` or `jamsos demo` on this state directory recorded.

    `live` is whether that process still runs. The embedded broker keeps nothing once it
    stops; the embedded PostgreSQL keeps its data under the state directory.
    """

    by: str
    pid: int
    kafka_bootstrap: str
    database_url: str
    database_embedded: bool
    recorded_at: str
    live: bool


def _alive(pid: int) -> bool:
    """Whether `pid` is a running jamsos process (not another process that got the pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: fall back to "some process has the pid"
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return b"jamsos" in cmdline


def read_recorded(state_dir: Path) -> Recorded | None:
    """The endpoints recorded in `state_dir`, or None when there is no (readable) record."""
    try:
        doc = json.loads((state_dir / ENDPOINTS_FILE).read_text("utf-8"))
        return Recorded(
            by=str(doc["by"]),
            pid=int(doc["pid"]),
            kafka_bootstrap=str(doc["kafka_bootstrap"]),
            database_url=str(doc["database_url"]),
            database_embedded=bool(doc["database_embedded"]),
            recorded_at=str(doc["recorded_at"]),
            live=_alive(int(doc["pid"])),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class Settings:
    """Everything configurable. `None` bootstrap/URL means: start the embedded one (`jamsos up`)."""

    kafka_bootstrap: str | None
    database_url: str | None
    state_dir: Path
    partitions: int = 6
    replication_factor: int = 1
    # Real Kafka: acks=all plus the idempotent producer. tansu rejects the idempotent producer.
    kafka_idempotence: bool = False
    kafka_acks: str = "all"
    group_prefix: str = "jamsos"
    batch_size: int = 500
    relay_batch_size: int = 1000
    relay_idle_seconds: float = 0.05
    # Level of jamsos's own loggers in service processes (`up`, `run`): INFO shows a line per
    # batch; other commands log warnings only.
    log_level: str = "INFO"
    # /health and /metrics of each service process; 0 turns the server off.
    http_port: int = 9400
    # How often a service process refreshes its lag and outbox gauges and its heartbeat.
    monitor_interval_seconds: float = 5.0
    dashboard_port: int = 8000  # 0: a free port chosen by the system
    # Outages (database or broker unreachable) are waited out: a service retries after a pause
    # that doubles from retry_initial_seconds up to retry_max_seconds, with jitter.
    retry_initial_seconds: float = 0.5
    retry_max_seconds: float = 30.0
    # When more than this share of a batch (and more than one record) fails record by record,
    # the consumer stops instead of dead-lettering them: that is a bug, not bad data.
    poison_max_share: float = 0.5
    # Crash tests only (jamsos/faults.py): the step boundary where the process ends itself.
    fault: str | None = None
    policy: Policy = field(default_factory=Policy)
    # What `jamsos up`/`demo` recorded in state_dir, and which JAMSOS_* values (unset in the
    # environment) were taken from it because that process is still running.
    recorded: Recorded | None = None
    from_record: tuple[str, ...] = ()
    letterhead: Letterhead = field(default_factory=lambda: _letterhead(_defaults()))


def _defaults() -> dict[str, Any]:
    text = resources.files("jamsos").joinpath("data/defaults.yaml").read_text("utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def _policy(doc: Mapping[str, Any], env: Mapping[str, str]) -> Policy:
    raw = dict(doc.get("policy") or {})
    for key in ("min_age", "max_age", "ceiling", "target"):
        if f"JAMSOS_POLICY_{key.upper()}" in env:
            raw[key] = int(env[f"JAMSOS_POLICY_{key.upper()}"])
    if "JAMSOS_POLICY_COVERAGE_START_RULE" in env:
        raw["coverage_start_rule"] = env["JAMSOS_POLICY_COVERAGE_START_RULE"]
    if "JAMSOS_REQUIRE_SIGNATURES" in env:
        raw["require_signatures"] = env["JAMSOS_REQUIRE_SIGNATURES"].lower() in _TRUE
    keys_dir = env.get("JAMSOS_AGENCY_KEYS_DIR")
    dir_keys = agency_key_files(Path(keys_dir)) if keys_dir else {}
    agencies = tuple(
        Agency(
            code=str(a["code"]),
            name=str(a["name"]),
            sector=str(a.get("sector", "")),
            payer_code=str(a["payer_code"]),
            funding_source=str(a["funding_source"]),
            quota=None if a.get("quota") is None else int(a["quota"]),
            public_keys=_public_keys(a) + tuple(dir_keys.get(str(a["code"]), ())),
        )
        for a in doc.get("agencies") or ()
    )
    return Policy(
        min_age=int(raw.get("min_age", 18)),
        max_age=int(raw.get("max_age", 65)),
        ceiling=int(raw.get("ceiling", 26_000)),
        target=int(raw.get("target", 26_000)),
        coverage_start_rule=CoverageStartRule(raw.get("coverage_start_rule", "NEXT_MONTH")),
        agencies=agencies,
        require_signatures=bool(raw.get("require_signatures", False)),
    )


def _letterhead(doc: Mapping[str, Any]) -> Letterhead:
    """The invoice documents' issuer, addressee, payment account and signatory."""
    raw = doc["documents"]
    strings = {group: {k: str(v) for k, v in raw[group].items()} for group in raw}
    payment = strings["payment"]
    return Letterhead(
        issuer=Issuer(**strings["issuer"]),
        addressee=Addressee(**strings["addressee"]),
        payment=PaymentAccount(
            method=PaymentMethod(payment["method"]),
            bank=payment["bank"],
            account_no=payment["account_no"],
            account_name=payment["account_name"],
        ),
        signatory=Signatory(**strings["signatory"]),
    )


def load_settings(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Settings from packaged defaults, then the config file, then JAMSOS_* variables."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    doc = _defaults()
    config_path = Path(env["JAMSOS_CONFIG"]) if "JAMSOS_CONFIG" in env else cwd / "jamsos.yaml"
    if config_path.is_file():
        override: dict[str, Any] = yaml.safe_load(config_path.read_text("utf-8")) or {}
        if "policy" in override:
            doc["policy"] = {**(doc.get("policy") or {}), **override["policy"]}
        if "agencies" in override:
            doc["agencies"] = override["agencies"]
        for group, values in (override.get("documents") or {}).items():
            doc["documents"][group] = {**doc["documents"].get(group, {}), **values}
    kafka_bootstrap = env.get("JAMSOS_KAFKA_BOOTSTRAP") or None
    database_url = env.get("JAMSOS_DATABASE_URL") or None
    state_dir = Path(env.get("JAMSOS_STATE_DIR", str(cwd / ".state")))
    recorded = read_recorded(state_dir)
    from_record: list[str] = []
    if recorded is not None and recorded.live:
        if kafka_bootstrap is None:
            kafka_bootstrap = recorded.kafka_bootstrap
            from_record.append("JAMSOS_KAFKA_BOOTSTRAP")
        if database_url is None:
            database_url = recorded.database_url
            from_record.append("JAMSOS_DATABASE_URL")
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap,
        database_url=database_url,
        state_dir=state_dir,
        policy=_policy(doc, env),
        recorded=recorded,
        from_record=tuple(from_record),
        letterhead=_letterhead(doc),
    )
    ints = {
        "partitions": "JAMSOS_PARTITIONS",
        "replication_factor": "JAMSOS_REPLICATION_FACTOR",
        "batch_size": "JAMSOS_BATCH_SIZE",
        "relay_batch_size": "JAMSOS_RELAY_BATCH_SIZE",
        "dashboard_port": "JAMSOS_DASHBOARD_PORT",
        "http_port": "JAMSOS_HTTP_PORT",
    }
    changes: dict[str, Any] = {k: int(env[v]) for k, v in ints.items() if v in env}
    floats = {
        "retry_initial_seconds": "JAMSOS_RETRY_INITIAL_SECONDS",
        "retry_max_seconds": "JAMSOS_RETRY_MAX_SECONDS",
        "poison_max_share": "JAMSOS_POISON_MAX_SHARE",
    }
    changes |= {k: float(env[v]) for k, v in floats.items() if v in env}
    if env.get("JAMSOS_FAULT"):
        changes["fault"] = env["JAMSOS_FAULT"]
    if "JAMSOS_KAFKA_IDEMPOTENCE" in env:
        changes["kafka_idempotence"] = env["JAMSOS_KAFKA_IDEMPOTENCE"].lower() in _TRUE
    if "JAMSOS_KAFKA_ACKS" in env:
        changes["kafka_acks"] = env["JAMSOS_KAFKA_ACKS"]
    if "JAMSOS_GROUP_PREFIX" in env:
        changes["group_prefix"] = env["JAMSOS_GROUP_PREFIX"]
    if "JAMSOS_LOG_LEVEL" in env:
        changes["log_level"] = env["JAMSOS_LOG_LEVEL"].upper()
    return replace(settings, **changes)


def child_environment(**overrides: str) -> dict[str, str]:
    """This process's environment plus `overrides`: for the `jamsos run` processes that a
    command (`jamsos bench`) starts itself."""
    return {**os.environ, **overrides}
