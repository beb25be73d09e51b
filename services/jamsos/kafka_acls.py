"""Kafka principals and ACLs of a production deployment (README, "Kafka security in
production"), derived from the code: the topics of `jamsos_schemas.topics`, the consumer
groups of the services' subscribers, the outbox topics of the use cases and the agency
registry. `jamsos kafka acls` prints them as the script that the compose file's
`kafka-security` job runs (deploy/kafka-security.sh, compared with this by a unit test).

Principals (SCRAM-SHA-512 users):
- `agency-CODE`, one per registered agency: Write on the submission and termination-request
  topics, nothing else (no Read, no group, no other topic);
- `jamsos-SERVICE` (registration, verification, billing): Read on the topics its consumers
  read and on its own consumer groups; Write on the outbox topics (below);
- `jamsos-topics` (the `topics` job): Create and Describe on the `jamsos.` topics;
- `jamsos-ops` (the `migrate` job and operators' `jamsos ops`, `bill`, `review decide`,
  `ops dlq replay`, `dashboard`): Read and Describe on the `jamsos.` topics, Describe on the
  `<prefix>.` groups, Write on the operator commands' topics and on every consumed topic
  (a dead-letter replay publishes the original bytes back to where they came from);
- `jamsos-admin`: the broker's super user (inter-broker traffic and this script), created
  when the storage is formatted (deploy/kafka-start.sh); no jamsos process uses it.

The outbox relay runs in every service process and publishes whatever the shared outbox
holds (one active relay per deployment, AdvisoryLock.RELAY), so every service principal may
write every outbox topic, not only those its own use cases emit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from jamsos.bootstrap import SERVICES, build_app
from jamsos.settings import Settings
from jamsos_schemas import topics

ADMIN = "jamsos-admin"
TOPICS_JOB = "jamsos-topics"
OPS = "jamsos-ops"
MECHANISM = "SCRAM-SHA-512"
# What agencies publish (CONTRACT.md): their submissions and termination requests.
AGENCY_TOPICS = (topics.SUBMITTED, topics.TERMINATION_REQUESTED)
# Every topic a use case writes to the outbox (tests/unit/test_kafka_acls.py reads the use
# cases' `OutboxEvent.of(topics.X, …)` calls and compares).
OUTBOX_TOPICS = (
    topics.ACCEPTED,
    topics.DUPLICATE,
    topics.REJECTED,
    topics.REVIEW_REQUIRED,
    topics.ENROLLED,
    topics.TERMINATED,
    topics.INVOICE_ISSUED,
    topics.DLQ,
)
# What operators' commands publish themselves (`jamsos bill`, `jamsos review decide`).
OPS_TOPICS = (topics.BILLING_RUN_REQUESTED, topics.REVIEW_DECIDED)
TOPIC_PREFIX = "jamsos."


@dataclass(frozen=True, order=True)
class Acl:
    """One allow rule: `principal` may `operation` on the `resource` (topic or group) `name`,
    a literal name or (`prefixed`) every name that starts with it."""

    principal: str
    resource: str
    name: str
    operation: str
    pattern: str = "literal"

    def arguments(self) -> str:
        """The kafka-acls.sh arguments after `--allow-principal User:PRINCIPAL`."""
        pattern = " --resource-pattern-type prefixed" if self.pattern == "prefixed" else ""
        return f"--operation {self.operation} --{self.resource} {self.name}{pattern}"


def agency_principal(code: str) -> str:
    """The SCRAM user of an agency."""
    return f"agency-{code}"


def service_principal(service: str) -> str:
    """The SCRAM user of a service."""
    return f"jamsos-{service}"


def secret_name(principal: str) -> str:
    """The compose secret (file `secrets/NAME`) holding a principal's password."""
    return "kafka_password_" + principal.replace("-", "_").lower()


def service_groups(settings: Settings) -> dict[str, dict[str, list[str]]]:
    """Per service, its consumer groups (`<prefix>.<group>`) and the topics each reads, taken
    from the subscribers the service really starts."""
    described = replace(settings, kafka_bootstrap=settings.kafka_bootstrap or "localhost:9092")
    result: dict[str, dict[str, list[str]]] = {}
    for service in SERVICES:
        _, broker = build_app(described, [service])
        groups = result.setdefault(service, {})
        for subscriber in broker.subscribers:
            group_id = getattr(subscriber, "group_id", None)
            if group_id:
                groups.setdefault(group_id, []).extend(getattr(subscriber, "topic_names", []))
    return result


def principals(settings: Settings) -> list[str]:
    """Every SCRAM user the deployment needs, the super user first."""
    return [
        ADMIN,
        *(service_principal(s) for s in SERVICES),
        TOPICS_JOB,
        OPS,
        *(agency_principal(a.code) for a in settings.policy.agencies),
    ]


def acls(settings: Settings) -> list[Acl]:
    """Every allow rule of the deployment (Kafka denies whatever no rule allows)."""
    rules: list[Acl] = []
    for agency in settings.policy.agencies:
        rules += [Acl(agency_principal(agency.code), "topic", t, "Write") for t in AGENCY_TOPICS]
    consumed: set[str] = set()
    for service, groups in service_groups(settings).items():
        who = service_principal(service)
        read = sorted({t for ts in groups.values() for t in ts})
        consumed.update(read)
        rules += [Acl(who, "topic", t, "Read") for t in read]
        rules += [Acl(who, "group", g, "Read") for g in sorted(groups)]
        rules += [Acl(who, "topic", t, "Write") for t in OUTBOX_TOPICS]
    rules += [
        Acl(TOPICS_JOB, "topic", TOPIC_PREFIX, op, "prefixed") for op in ("Create", "Describe")
    ]
    rules += [Acl(OPS, "topic", TOPIC_PREFIX, op, "prefixed") for op in ("Read", "Describe")]
    rules.append(Acl(OPS, "group", f"{settings.group_prefix}.", "Describe", "prefixed"))
    rules += [Acl(OPS, "topic", t, "Write") for t in sorted({*OPS_TOPICS, *consumed})]
    return rules


_HEADER = """#!/usr/bin/env bash
# GENERATED by `jamsos kafka acls > deploy/kafka-security.sh`: do not edit by hand.
# The SCRAM-SHA-512 users and the ACLs of the compose deployment, from the code's topics,
# consumer groups and agency registry (services/jamsos/kafka_acls.py). Run by the compose
# job `kafka-security` as the super user; each password is the file /run/secrets/NAME.
# Adding users and ACLs is idempotent; a rule dropped from the code is not removed here.
set -euo pipefail
BOOTSTRAP="${KAFKA_BOOTSTRAP:-kafka:9092}"
SECRETS="${SECRETS_DIR:-/run/secrets}"
BIN=/opt/kafka/bin
CONFIG="$(mktemp)"
trap 'rm -f "$CONFIG"' EXIT
{
  echo "security.protocol=SASL_PLAINTEXT"
  echo "sasl.mechanism=SCRAM-SHA-512"
  printf 'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule'
  printf ' required username="%s" password="%s";\\n' ADMIN_USER "$(cat "$SECRETS/ADMIN_SECRET")"
} > "$CONFIG"
user() {
  "$BIN/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$CONFIG" --alter \\
    --entity-type users --entity-name "$1" \\
    --add-config "SCRAM-SHA-512=[password=$(cat "$SECRETS/$2")]"
}
allow() {
  "$BIN/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$CONFIG" --add \\
    --allow-principal "User:$1" "${@:2}"
}
"""


def script(settings: Settings) -> str:
    """deploy/kafka-security.sh: one `user` line per principal, one `allow` line per rule."""
    header = _HEADER.replace("ADMIN_USER", ADMIN).replace("ADMIN_SECRET", secret_name(ADMIN))
    users = [f"user {p} {secret_name(p)}" for p in principals(settings) if p != ADMIN]
    rules = [f"allow {rule.principal} {rule.arguments()}" for rule in acls(settings)]
    return header + "\n".join([*users, *rules, 'echo "kafka-security: users and ACLs set"']) + "\n"
