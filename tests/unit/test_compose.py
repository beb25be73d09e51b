"""docker-compose.yml and the Dockerfile describe a deployment the code actually supports."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from jamsos.adapters import db

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text("utf-8")
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERFILE_TEXT = DOCKERFILE.read_text("utf-8") if DOCKERFILE.is_file() else ""
SETTINGS_TEXT = (ROOT / "services" / "jamsos" / "settings.py").read_text("utf-8")
RUNNING = ("registration", "verification", "billing")
JAMSOS_SERVICES = sorted(name for name, service in SERVICES.items() if "build" in service)


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _words(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def _dockerfile_entrypoint() -> list[str]:
    lines = DOCKERFILE_TEXT.splitlines()
    entrypoints = [line.split(None, 1)[1] for line in lines if line.startswith("ENTRYPOINT ")]
    assert entrypoints, "the Dockerfile has no ENTRYPOINT"
    last = entrypoints[-1].strip()
    return json.loads(last) if last.startswith("[") else shlex.split(last)


def _argv(service: dict[str, Any]) -> list[str]:
    entrypoint = _words(service.get("entrypoint")) or _dockerfile_entrypoint()
    return entrypoint + _words(service.get("command"))


def _kafka() -> dict[str, Any]:
    kafka = [
        s
        for s in SERVICES.values()
        if str(s.get("image", "")).startswith("apache/kafka:")
        and "KAFKA_PROCESS_ROLES" in _environment(s)
    ]
    assert len(kafka) == 1, "expected exactly one apache/kafka broker"
    return kafka[0]


def _postgres_service() -> tuple[str, dict[str, Any]]:
    found = [
        (n, s)
        for n, s in SERVICES.items()
        if str(s.get("image", "")).startswith("postgres:") and "POSTGRES_DB" in _environment(s)
    ]
    assert len(found) == 1, "expected exactly one postgres service"
    return found[0]


def test_kafka_service_runs_kraft_broker_and_controller_without_zookeeper() -> None:
    roles = _environment(_kafka())["KAFKA_PROCESS_ROLES"].split(",")
    assert {"broker", "controller"} <= {r.strip() for r in roles}
    assert "zookeeper" not in COMPOSE_TEXT.lower()


def test_kafka_service_disables_topic_auto_creation() -> None:
    assert _environment(_kafka())["KAFKA_AUTO_CREATE_TOPICS_ENABLE"].lower() == "false"


def test_postgres_image_is_version_16_or_newer() -> None:
    _, postgres = _postgres_service()
    major = re.match(r"postgres:(\d+)", postgres["image"])
    assert major is not None and int(major.group(1)) >= 16


@pytest.mark.parametrize("name", RUNNING)
def test_service_container_runs_jamsos_run_with_its_name(name: str) -> None:
    assert _argv(SERVICES[name]) == ["jamsos", "run", name]


@pytest.mark.parametrize("name", RUNNING)
def test_service_container_starts_after_topics_and_migrations_succeed(name: str) -> None:
    depends = SERVICES[name]["depends_on"]
    for one_shot in ("topics", "migrate", "db-logins"):
        assert depends[one_shot]["condition"] == "service_completed_successfully"


def test_one_shot_containers_create_topics_and_migrate_once_dependencies_are_healthy() -> None:
    assert _argv(SERVICES["topics"]) == ["jamsos", "topics", "create"]
    assert _argv(SERVICES["migrate"]) == ["jamsos", "db", "migrate"]
    # topics are created as the jamsos-topics user, which exists once kafka-security has run
    assert SERVICES["topics"]["depends_on"]["kafka-security"]["condition"] == (
        "service_completed_successfully"
    )
    assert SERVICES["kafka-security"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "kafka-broker-api-versions.sh" in str(SERVICES["kafka"]["healthcheck"]["test"])
    assert "pg_isready" in str(SERVICES["postgres"]["healthcheck"]["test"])


def test_jamsos_containers_are_all_the_expected_ones() -> None:
    assert sorted(("topics", "migrate", *RUNNING)) == JAMSOS_SERVICES


@pytest.mark.parametrize("name", JAMSOS_SERVICES)
def test_jamsos_container_bootstrap_names_kafka_advertised_listener(name: str) -> None:
    advertised = _environment(_kafka())["KAFKA_ADVERTISED_LISTENERS"]
    listeners = {item.split("://", 1)[1] for item in advertised.split(",")}
    bootstrap = _environment(SERVICES[name])["JAMSOS_KAFKA_BOOTSTRAP"].split(",")
    assert bootstrap and set(bootstrap) <= listeners
    assert all(address.rsplit(":", 1)[0] in SERVICES for address in bootstrap)


MIGRATION_ROLES = ROOT / "services" / "jamsos" / "migrations" / "0008_service_roles.sql"
LOGINS_SCRIPT = ROOT / "deploy" / "postgres-logins.sh"


def _secret_file(service: dict[str, Any], path: str) -> Path:
    """The file behind a /run/secrets/NAME path that `service` mounts."""
    assert path.startswith("/run/secrets/"), path
    name = path.removeprefix("/run/secrets/")
    assert name in (service.get("secrets") or []), f"{name} is not mounted"
    source = Path(COMPOSE["secrets"][name]["file"])
    assert source.parent.name == "secrets", source  # ./secrets is not committed
    return source


@pytest.mark.parametrize("name", ["migrate", *RUNNING])
def test_jamsos_container_database_url_points_at_postgres_service(name: str) -> None:
    host, postgres = _postgres_service()
    pg_env = _environment(postgres)
    env = _environment(SERVICES[name])
    url = urlsplit(env["JAMSOS_DATABASE_URL"])
    assert url.scheme in {"postgresql", "postgres"}
    assert url.hostname == host
    assert url.port in {None, 5432}
    assert url.path.lstrip("/") == pg_env["POSTGRES_DB"]
    assert url.password is None, "passwords come from JAMSOS_DATABASE_PASSWORD_FILE (a secret)"
    _secret_file(SERVICES[name], env["JAMSOS_DATABASE_PASSWORD_FILE"])
    if name == "migrate":  # the owner: migrations and the agencies sync
        assert url.username == pg_env["POSTGRES_USER"]
        assert env["JAMSOS_DATABASE_PASSWORD_FILE"] == pg_env["POSTGRES_PASSWORD_FILE"]
    else:  # its own role's login, nothing more
        assert url.username == f"jamsos_{name}_login"
        assert env["JAMSOS_DATABASE_PASSWORD_FILE"] == f"/run/secrets/postgres_password_{name}"
        database = [n for n in SERVICES[name]["secrets"] if n.startswith("postgres_")]
        assert database == [f"postgres_password_{name}"]


def test_db_secrets_writes_every_postgres_secret_of_the_compose_file_once(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from jamsos.cli import app

    (tmp_path / "postgres_password_owner").write_text("kept\n", "ascii")
    result = CliRunner().invoke(app, ["db", "secrets", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = {p.name for p in tmp_path.iterdir()}
    wanted = {name for name in COMPOSE["secrets"] if name.startswith("postgres_")}
    assert written == wanted == {f"postgres_password_{u}" for u in ("owner", *db.ROLES)}
    assert (tmp_path / "postgres_password_owner").read_text("ascii") == "kept\n"
    for path in tmp_path.iterdir():
        if path.name != "postgres_password_owner":
            assert path.stat().st_mode & 0o077 == 0, path
            assert len(path.read_text("ascii").strip()) >= 32, path


def test_topics_container_has_no_database_login() -> None:
    assert "JAMSOS_DATABASE_URL" not in _environment(SERVICES["topics"])
    assert not [n for n in SERVICES["topics"].get("secrets") or () if n.startswith("postgres_")]


def test_db_logins_gives_every_migration_role_a_login_after_migrate() -> None:
    roles = set(re.findall(r"'jamsos_([a-z]+)'", MIGRATION_ROLES.read_text("utf-8")))
    assert roles == set(db.ROLES)
    script = LOGINS_SCRIPT.read_text("utf-8")
    listed = re.search(r"for role in ([a-z ]+); do", script)
    assert listed is not None and set(listed.group(1).split()) == roles
    logins = SERVICES["db-logins"]
    assert logins["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert set(logins["secrets"]) == {f"postgres_password_{r}" for r in roles | {"owner"}}
    mounts = [str(v).split(":") for v in logins["volumes"]]
    assert [m[0] for m in mounts] == ["./deploy/postgres-logins.sh"]
    assert logins["entrypoint"][-1] == mounts[0][1]
    _, postgres = _postgres_service()
    assert _environment(logins)["PGUSER"] == _environment(postgres)["POSTGRES_USER"]
    for name in RUNNING:
        depends = SERVICES[name]["depends_on"]["db-logins"]
        assert depends["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("name", JAMSOS_SERVICES)
def test_jamsos_container_producer_is_idempotent_with_acks_all(name: str) -> None:
    env = _environment(SERVICES[name])
    assert env["JAMSOS_KAFKA_IDEMPOTENCE"].lower() in {"1", "true", "yes", "on"}
    assert env["JAMSOS_KAFKA_ACKS"] == "all"


@pytest.mark.parametrize(
    "variable",
    sorted(set(re.findall(r"\bJAMSOS_[A-Z0-9_]+", COMPOSE_TEXT + DOCKERFILE_TEXT))),
)
def test_jamsos_variable_in_deployment_files_is_read_by_settings(variable: str) -> None:
    assert f'"{variable}"' in SETTINGS_TEXT, f"settings.py does not read {variable}"


def test_dockerfile_entrypoint_is_jamsos() -> None:
    assert DOCKERFILE.is_file(), "Dockerfile missing at the repository root"
    assert _dockerfile_entrypoint() == ["jamsos"]


@pytest.mark.parametrize("name", RUNNING)
def test_service_container_healthcheck_requests_health_on_its_http_port(name: str) -> None:
    service = SERVICES[name]
    port = _environment(service)["JAMSOS_HTTP_PORT"]
    assert int(port) > 0  # 0 would turn the endpoint off
    probe = " ".join(str(word) for word in service["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/health" in probe
    assert port in [str(p) for p in service.get("expose", [])]


@pytest.mark.parametrize("name", RUNNING)
def test_service_container_requires_agency_signatures_with_keys_from_a_mounted_directory(
    name: str,
) -> None:
    service = SERVICES[name]
    env = _environment(service)
    assert env["JAMSOS_REQUIRE_SIGNATURES"].lower() in {"1", "true", "yes", "on"}
    keys_dir = env["JAMSOS_AGENCY_KEYS_DIR"]
    mounts = [str(v).split(":") for v in service.get("volumes") or ()]
    assert [m[0] for m in mounts if m[1] == keys_dir] == ["./agency-keys"]
    assert (ROOT / "agency-keys").is_dir()
