"""The only reader of JAMSOS_* variables and the config file; yields a frozen Settings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from jamsos.domain.policy import Agency, CoverageStartRule, Policy

_TRUE = {"1", "true", "yes", "on"}


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
    log_level: str = "WARNING"
    policy: Policy = field(default_factory=Policy)


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
    agencies = tuple(
        Agency(
            code=str(a["code"]),
            name=str(a["name"]),
            sector=str(a.get("sector", "")),
            payer_code=str(a["payer_code"]),
            funding_source=str(a["funding_source"]),
            quota=None if a.get("quota") is None else int(a["quota"]),
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
    settings = Settings(
        kafka_bootstrap=env.get("JAMSOS_KAFKA_BOOTSTRAP") or None,
        database_url=env.get("JAMSOS_DATABASE_URL") or None,
        state_dir=Path(env.get("JAMSOS_STATE_DIR", str(cwd / ".state"))),
        policy=_policy(doc, env),
    )
    ints = {
        "partitions": "JAMSOS_PARTITIONS",
        "replication_factor": "JAMSOS_REPLICATION_FACTOR",
        "batch_size": "JAMSOS_BATCH_SIZE",
        "relay_batch_size": "JAMSOS_RELAY_BATCH_SIZE",
    }
    changes: dict[str, Any] = {k: int(env[v]) for k, v in ints.items() if v in env}
    if "JAMSOS_KAFKA_IDEMPOTENCE" in env:
        changes["kafka_idempotence"] = env["JAMSOS_KAFKA_IDEMPOTENCE"].lower() in _TRUE
    if "JAMSOS_KAFKA_ACKS" in env:
        changes["kafka_acks"] = env["JAMSOS_KAFKA_ACKS"]
    if "JAMSOS_GROUP_PREFIX" in env:
        changes["group_prefix"] = env["JAMSOS_GROUP_PREFIX"]
    if "JAMSOS_LOG_LEVEL" in env:
        changes["log_level"] = env["JAMSOS_LOG_LEVEL"].upper()
    return replace(settings, **changes)
