"""The only reader of JAMSOS_* variables and (through config_file.py) the config file; yields a
frozen Settings."""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from jamsos import config_file
from jamsos.config_file import ConfigError as ConfigError  # raised here too; callers catch it here
from jamsos.domain.letterhead import Letterhead
from jamsos.domain.policy import Policy, setting

_TRUE = {"1", "true", "yes", "on"}
ENDPOINTS_FILE = "endpoints.json"  # written by `jamsos up` / `jamsos demo` in the state dir


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


KAFKA_PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL")
SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


@dataclass(frozen=True)
class KafkaSecurity:
    """How every Kafka client authenticates (README, "Kafka security in production").

    PLAINTEXT (the default) is the embedded tansu broker, which has no SASL. Production
    (docker-compose.yml) uses SASL_PLAINTEXT or SASL_SSL with SCRAM-SHA-512 and one principal
    per service and per agency; `ssl_cafile` is the CA that signed the broker's certificate.
    """

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None

    @property
    def sasl(self) -> bool:
        """Whether the clients authenticate with SASL."""
        return self.protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        """Whether the connection is encrypted with TLS."""
        return self.protocol in {"SSL", "SASL_SSL"}


def _secret(env: Mapping[str, str], name: str, file_name: str) -> str | None:
    """`name`'s value, or the content of the file that `file_name` names (docker secrets)."""
    if env.get(name):
        return env[name]
    path = env.get(file_name)
    if not path:
        return None
    try:
        return Path(path).read_text("utf-8").strip()
    except OSError as error:
        raise ConfigError(f"{file_name}={path}: cannot read it ({error})") from None


def kafka_security(env: Mapping[str, str]) -> KafkaSecurity:
    """The Kafka client security from JAMSOS_KAFKA_* variables; inconsistent ones are refused."""
    protocol = env.get("JAMSOS_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper()
    if protocol not in KAFKA_PROTOCOLS:
        raise ConfigError(
            f"JAMSOS_KAFKA_SECURITY_PROTOCOL={protocol}: choose one of {', '.join(KAFKA_PROTOCOLS)}"
        )
    security = KafkaSecurity(
        protocol=protocol,
        sasl_mechanism=env.get("JAMSOS_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512").upper(),
        username=env.get("JAMSOS_KAFKA_SASL_USERNAME") or None,
        password=_secret(env, "JAMSOS_KAFKA_SASL_PASSWORD", "JAMSOS_KAFKA_SASL_PASSWORD_FILE"),
        ssl_cafile=env.get("JAMSOS_KAFKA_SSL_CAFILE") or None,
    )
    if not security.sasl:
        return replace(security, sasl_mechanism=None, username=None, password=None)
    if security.sasl_mechanism not in SASL_MECHANISMS:
        raise ConfigError(
            f"JAMSOS_KAFKA_SASL_MECHANISM={security.sasl_mechanism}:"
            f" choose one of {', '.join(SASL_MECHANISMS)}"
        )
    if security.username is None or security.password is None:
        raise ConfigError(
            f"JAMSOS_KAFKA_SECURITY_PROTOCOL={protocol} needs JAMSOS_KAFKA_SASL_USERNAME and"
            " JAMSOS_KAFKA_SASL_PASSWORD (or JAMSOS_KAFKA_SASL_PASSWORD_FILE)"
        )
    return security


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
    kafka_security: KafkaSecurity = field(default_factory=KafkaSecurity)
    # The largest record value a consumer takes (bytes); a larger one is dead-lettered as
    # MESSAGE_TOO_LARGE. 1 MiB: Kafka's default `message.max.bytes` (1048588) less its
    # record overhead, so nothing a default broker accepts is refused by jamsos.
    max_message_bytes: int = 1_048_576
    group_prefix: str = "jamsos"
    # Records a consumer takes a batch (registration, verification, terminations, billing runs):
    # 2000 measured best on 2 cores, quiet (README, performance: 3 December, 500/1000/2000).
    batch_size: int = 2000
    # The billing ledger's batches: its per-event work is a few µs, so a batch's fixed costs
    # (commit, offset commit, round trips) would dominate at 2000 (README, performance).
    ledger_batch_size: int = 5000
    relay_batch_size: int = 1000
    # The outbox sweeper (rows the publisher left: a crash, a redelivery, an outage) looks every
    # relay_idle_seconds, at rows older than relay_grace_seconds; the publisher needs neither.
    relay_idle_seconds: float = 1.0
    relay_grace_seconds: float = 2.0
    # How long the outbox producer waits to fill a request (README, "Benchmarks").
    kafka_linger_ms: int = 5
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
    # Who the audit log names for this process's decisions (payments, dead-letter replays and
    # discards): JAMSOS_ACTOR, else the operating-system user.
    actor: str = "unknown"
    # Crash tests only (jamsos/faults.py): the step boundary where the process ends itself.
    fault: str | None = None
    policy: Policy = field(default_factory=Policy)
    # What `jamsos up`/`demo` recorded in state_dir, and which JAMSOS_* values (unset in the
    # environment) were taken from it because that process is still running.
    recorded: Recorded | None = None
    from_record: tuple[str, ...] = ()
    letterhead: Letterhead = field(
        default_factory=lambda: config_file.letterhead(config_file.defaults(), "")
    )


def _shown(path: Path, cwd: Path) -> str:
    """How messages name the config file: relative to the working directory when inside it."""
    return str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path)


_POLICY_VARIABLES = {
    key: f"JAMSOS_POLICY_{key.upper()}"
    for key in ("min_age", "max_age", "ceiling", "target", "coverage_start_rule")
}


def _policy_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """Policy settings given as JAMSOS_POLICY_* and JAMSOS_REQUIRE_SIGNATURES."""
    found: dict[str, Any] = {}
    for key, variable in _POLICY_VARIABLES.items():
        if variable in env:
            try:
                found[key] = setting(key, env[variable].strip())
            except ValueError as error:
                raise ConfigError(f"{variable}: {error}") from None
    if "JAMSOS_REQUIRE_SIGNATURES" in env:
        found["require_signatures"] = env["JAMSOS_REQUIRE_SIGNATURES"].lower() in _TRUE
    return found


def _agency_keys(env: Mapping[str, str]) -> dict[str, list[str]]:
    keys_dir = env.get("JAMSOS_AGENCY_KEYS_DIR")
    return agency_key_files(Path(keys_dir)) if keys_dir else {}


def _os_user() -> str:
    """The login name of the user running this process (`uid:N` if it has none)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid:{os.getuid()}"


def _with_password(url: str, password: str) -> str:
    """`url` with `password` (from a Docker secret): the URL in the compose file names the
    login, the secret file holds its password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    user = quote(unquote(parts.username or ""), safe="")
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}{port}"))


# Numeric JAMSOS_* settings that count something and cannot be 0 (the others, such as a linger,
# a port (0: any free one) or a duration, may be 0).
_AT_LEAST_ONE = {
    "JAMSOS_PARTITIONS",
    "JAMSOS_REPLICATION_FACTOR",
    "JAMSOS_BATCH_SIZE",
    "JAMSOS_LEDGER_BATCH_SIZE",
    "JAMSOS_RELAY_BATCH_SIZE",
    "JAMSOS_MAX_MESSAGE_BYTES",
}


def _number(env: Mapping[str, str], variable: str, kind: type[int] | type[float]) -> Any:
    """`env[variable]` as a number of `kind`, not negative (and at least 1 where it counts
    something); otherwise a ConfigError that names the variable, not a traceback."""
    try:
        value = kind(env[variable].strip())
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{variable}={env[variable]!r}: not {what}") from None
    least = 1 if variable in _AT_LEAST_ONE else 0
    if not value >= least:  # also refuses nan
        raise ConfigError(f"{variable}={env[variable]!r}: must be at least {least}")
    return value


def load_settings(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Settings from packaged defaults, then the config file, then JAMSOS_* variables."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    doc = config_file.defaults()
    config_path = Path(env["JAMSOS_CONFIG"]) if "JAMSOS_CONFIG" in env else cwd / "jamsos.yaml"
    shown = "the packaged defaults"
    if config_path.is_file():
        shown = _shown(config_path, cwd)
        doc = config_file.merged(doc, config_file.read(config_path, shown))
    kafka_bootstrap = env.get("JAMSOS_KAFKA_BOOTSTRAP") or None
    database_url = env.get("JAMSOS_DATABASE_URL") or None
    database_password = _secret(env, "JAMSOS_DATABASE_PASSWORD", "JAMSOS_DATABASE_PASSWORD_FILE")
    if database_url and database_password is not None:
        database_url = _with_password(database_url, database_password)
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
        policy=config_file.policy(doc, _policy_overrides(env), _agency_keys(env), shown),
        recorded=recorded,
        from_record=tuple(from_record),
        letterhead=config_file.letterhead(doc, shown),
    )
    ints = {
        "partitions": "JAMSOS_PARTITIONS",
        "replication_factor": "JAMSOS_REPLICATION_FACTOR",
        "batch_size": "JAMSOS_BATCH_SIZE",
        "ledger_batch_size": "JAMSOS_LEDGER_BATCH_SIZE",
        "relay_batch_size": "JAMSOS_RELAY_BATCH_SIZE",
        "kafka_linger_ms": "JAMSOS_KAFKA_LINGER_MS",
        "dashboard_port": "JAMSOS_DASHBOARD_PORT",
        "http_port": "JAMSOS_HTTP_PORT",
        "max_message_bytes": "JAMSOS_MAX_MESSAGE_BYTES",
    }
    changes: dict[str, Any] = {k: _number(env, v, int) for k, v in ints.items() if v in env}
    floats = {
        "retry_initial_seconds": "JAMSOS_RETRY_INITIAL_SECONDS",
        "retry_max_seconds": "JAMSOS_RETRY_MAX_SECONDS",
        "poison_max_share": "JAMSOS_POISON_MAX_SHARE",
        "relay_idle_seconds": "JAMSOS_RELAY_IDLE_SECONDS",
        "relay_grace_seconds": "JAMSOS_RELAY_GRACE_SECONDS",
    }
    changes |= {k: _number(env, v, float) for k, v in floats.items() if v in env}
    changes["actor"] = env.get("JAMSOS_ACTOR", "").strip() or _os_user()
    if env.get("JAMSOS_FAULT"):
        changes["fault"] = env["JAMSOS_FAULT"]
    if "JAMSOS_KAFKA_IDEMPOTENCE" in env:
        changes["kafka_idempotence"] = env["JAMSOS_KAFKA_IDEMPOTENCE"].lower() in _TRUE
    if "JAMSOS_KAFKA_ACKS" in env:
        changes["kafka_acks"] = env["JAMSOS_KAFKA_ACKS"]
    changes["kafka_security"] = kafka_security(env)
    if "JAMSOS_GROUP_PREFIX" in env:
        changes["group_prefix"] = env["JAMSOS_GROUP_PREFIX"]
    if "JAMSOS_LOG_LEVEL" in env:
        changes["log_level"] = env["JAMSOS_LOG_LEVEL"].upper()
    return replace(settings, **changes)


def child_environment(**overrides: str) -> dict[str, str]:
    """This process's environment plus `overrides`: for the `jamsos run` processes that a
    command (`jamsos bench`) starts itself."""
    return {**os.environ, **overrides}
