"""The Kafka users and ACLs of the compose deployment match the code and grant no more.

What this cannot show: that a live apache/kafka broker enforces them (no Docker engine and no
SASL broker on the development machines; tansu has no SASL). It shows that the script the
compose job runs is exactly what the code's topics, groups and agency registry give, and what
each principal may do.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import yaml

from jamsos import kafka_acls
from jamsos.bootstrap import SERVICES, consumer_groups
from jamsos.kafka_acls import Acl, acls, agency_principal, principals, secret_name
from jamsos.settings import Settings, load_settings
from jamsos_schemas import topics

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))


def _settings(tmp_path: Path) -> Settings:
    return load_settings(env={}, cwd=tmp_path)  # the packaged agency registry


def test_committed_script_is_what_the_code_generates(tmp_path: Path) -> None:
    committed = (ROOT / "deploy" / "kafka-security.sh").read_text("utf-8")
    assert committed == kafka_acls.script(_settings(tmp_path)), (
        "deploy/kafka-security.sh is stale: run `jamsos kafka acls > deploy/kafka-security.sh`"
    )


def test_every_agency_may_write_its_two_topics_and_nothing_else(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    rules = acls(settings)
    assert settings.policy.agencies
    for agency in settings.policy.agencies:
        mine = {
            (r.resource, r.name, r.operation, r.pattern)
            for r in rules
            if r.principal == agency_principal(agency.code)
        }
        assert mine == {
            ("topic", topics.SUBMITTED, "Write", "literal"),
            ("topic", topics.TERMINATION_REQUESTED, "Write", "literal"),
        }
    agency_rules = [r for r in rules if r.principal.startswith("agency-")]
    assert not [r for r in agency_rules if r.operation != "Write" or r.resource != "topic"]


def test_each_service_reads_only_its_own_topics_and_groups(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    rules = acls(settings)
    every_group = consumer_groups(settings)
    by_service = kafka_acls.service_groups(settings)
    assert sorted(g for groups in by_service.values() for g in groups) == sorted(every_group)
    for service in SERVICES:
        who = kafka_acls.service_principal(service)
        groups = by_service[service]
        assert groups, f"{service} has no consumer group"
        read_topics = {
            r.name
            for r in rules
            if r.principal == who and r.resource == "topic" and r.operation == "Read"
        }
        assert read_topics == {t for ts in groups.values() for t in ts}
        read_groups = {r.name for r in rules if r.principal == who and r.resource == "group"}
        assert read_groups == set(groups)
        assert all(g.startswith(f"{settings.group_prefix}.") for g in read_groups)
        writes = {r.name for r in rules if r.principal == who and r.operation == "Write"}
        assert writes == set(kafka_acls.OUTBOX_TOPICS)
        assert not writes & {topics.SUBMITTED, topics.TERMINATION_REQUESTED}
        assert {r.pattern for r in rules if r.principal == who} == {"literal"}
        assert {r.operation for r in rules if r.principal == who} == {"Read", "Write"}


def _outbox_topics_in_use_cases() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "services" / "jamsos" / "usecases").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "of"
                and getattr(node.func.value, "id", None) == "OutboxEvent"
            ):
                first = node.args[0]
                assert isinstance(first, ast.Attribute), (
                    f"{path}:{node.lineno}: topic not a constant"
                )
                found.add(getattr(topics, first.attr))
    return found


def test_outbox_topics_are_the_ones_the_use_cases_write() -> None:
    assert _outbox_topics_in_use_cases() == set(kafka_acls.OUTBOX_TOPICS)


def test_every_topic_has_a_writer_and_every_consumed_topic_a_reader(tmp_path: Path) -> None:
    rules = acls(_settings(tmp_path))
    literal = {
        (r.name, r.operation) for r in rules if r.resource == "topic" and r.pattern == "literal"
    }
    consumed = {t for ts in consumer_groups(_settings(tmp_path)).values() for t in ts}
    for topic in topics.ALL_TOPICS:
        assert (topic, "Write") in literal, f"nobody may write {topic}"
    for topic in consumed:
        assert (topic, "Read") in literal
    assert all(t.startswith(kafka_acls.TOPIC_PREFIX) for t in topics.ALL_TOPICS)


def test_only_the_jobs_hold_prefixed_rules_and_nobody_but_admin_is_super(tmp_path: Path) -> None:
    rules = acls(_settings(tmp_path))
    prefixed = {(r.principal, r.resource, r.operation) for r in rules if r.pattern == "prefixed"}
    assert prefixed == {
        ("jamsos-topics", "topic", "Create"),
        ("jamsos-topics", "topic", "Describe"),
        ("jamsos-ops", "topic", "Read"),
        ("jamsos-ops", "topic", "Describe"),
        ("jamsos-ops", "group", "Describe"),
    }
    assert not [r for r in rules if r.principal == kafka_acls.ADMIN]
    assert all(
        isinstance(r, Acl) and r.operation in {"Read", "Write", "Describe", "Create"} for r in rules
    )
    kafka_env = COMPOSE["services"]["kafka"]["environment"]
    assert kafka_env["KAFKA_SUPER_USERS"] == f"User:{kafka_acls.ADMIN};User:ANONYMOUS"
    assert "CONTROLLER://localhost:" in kafka_env["KAFKA_LISTENERS"]  # ANONYMOUS: loopback only


def test_broker_requires_scram_and_denies_what_no_acl_allows() -> None:
    env = COMPOSE["services"]["kafka"]["environment"]
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == kafka_acls.MECHANISM
    assert env["KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL"] == kafka_acls.MECHANISM
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    for listener in env["KAFKA_ADVERTISED_LISTENERS"].split(","):
        assert protocols[listener.split("://")[0]].startswith("SASL_")


def test_compose_has_one_secret_file_per_principal_and_no_password_in_it(tmp_path: Path) -> None:
    names = {secret_name(p) for p in principals(_settings(tmp_path))}
    declared = {n: v for n, v in COMPOSE["secrets"].items() if n.startswith("kafka_")}
    assert set(declared) == names
    assert all(declared[n] == {"file": f"./secrets/{n}"} for n in names)
    assert set(COMPOSE["services"]["kafka-security"]["secrets"]) == names
    assert "secrets/" in (ROOT / ".gitignore").read_text("utf-8").split()
    text = (ROOT / "docker-compose.yml").read_text("utf-8")
    assert "JAMSOS_KAFKA_SASL_PASSWORD:" not in text


def test_each_jamsos_container_logs_in_as_its_own_principal(tmp_path: Path) -> None:
    expected = {s: kafka_acls.service_principal(s) for s in SERVICES}
    expected |= {"topics": kafka_acls.TOPICS_JOB, "migrate": kafka_acls.OPS}
    for name, principal in expected.items():
        service = COMPOSE["services"][name]
        env = {str(k): str(v) for k, v in service["environment"].items()}
        assert env["JAMSOS_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert env["JAMSOS_KAFKA_SASL_MECHANISM"] == kafka_acls.MECHANISM
        assert env["JAMSOS_KAFKA_SASL_USERNAME"] == principal
        kafka = [n for n in service["secrets"] if n.startswith("kafka_")]
        assert kafka == [secret_name(principal)]
        assert env["JAMSOS_KAFKA_SASL_PASSWORD_FILE"] == f"/run/secrets/{secret_name(principal)}"
        # the container's settings load (with its password file) and give SCRAM arguments
        secret = tmp_path / secret_name(principal)
        secret.write_text("pw\n", "utf-8")
        env["JAMSOS_KAFKA_SASL_PASSWORD_FILE"] = str(secret)
        env.pop("JAMSOS_AGENCY_KEYS_DIR", None)
        env.pop("JAMSOS_DATABASE_PASSWORD_FILE", None)  # postgres_password_* (test_compose.py)
        security = load_settings(env=env, cwd=tmp_path).kafka_security
        assert (security.username, security.password) == (principal, "pw")
