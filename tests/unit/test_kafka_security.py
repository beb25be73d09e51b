"""JAMSOS_KAFKA_* → Settings.kafka_security → the keyword arguments of every Kafka client.

tansu (the broker of the other tests) has no SASL, so SASL/SCRAM is checked here at the
boundary we own: the settings, the arguments aiokafka and FastStream are given, and that no
client is built without them. tests/integration/test_kafka_sasl_wire.py checks that real
aiokafka clients built from these settings open a SCRAM-SHA-512 handshake on the wire.
"""

from __future__ import annotations

import ast
import datetime as dt
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faststream.kafka.security import parse_security

from jamsos.adapters.kafka import broker_security, client_security, make_producer
from jamsos.settings import ConfigError, KafkaSecurity, load_settings

ROOT = Path(__file__).resolve().parents[2]
SCRAM_ENV = {
    "JAMSOS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "JAMSOS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "JAMSOS_KAFKA_SASL_USERNAME": "jamsos-registration",
    "JAMSOS_KAFKA_SASL_PASSWORD": "s3cret",
}


def _ca_file(directory: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jamsos test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = directory / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_default_is_plaintext_and_gives_clients_no_security_arguments(tmp_path: Path) -> None:
    settings = load_settings(env={}, cwd=tmp_path)
    assert settings.kafka_security == KafkaSecurity()
    assert dict(client_security(settings.kafka_security)) == {}
    assert broker_security(settings.kafka_security) is None


def test_scram_settings_become_aiokafka_sasl_arguments(tmp_path: Path) -> None:
    security = load_settings(env=SCRAM_ENV, cwd=tmp_path).kafka_security
    assert dict(client_security(security)) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "jamsos-registration",
        "sasl_plain_password": "s3cret",
    }
    assert "s3cret" not in repr(security)  # settings may be logged; the password is not shown


def test_password_may_come_from_a_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-file\n", "utf-8")
    env = {k: v for k, v in SCRAM_ENV.items() if k != "JAMSOS_KAFKA_SASL_PASSWORD"}
    env["JAMSOS_KAFKA_SASL_PASSWORD_FILE"] = str(secret)
    security = load_settings(env=env, cwd=tmp_path).kafka_security
    assert client_security(security)["sasl_plain_password"] == "from-file"


def test_sasl_ssl_with_a_ca_file_gives_a_verifying_ssl_context(tmp_path: Path) -> None:
    env = {
        **SCRAM_ENV,
        "JAMSOS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "JAMSOS_KAFKA_SSL_CAFILE": str(_ca_file(tmp_path)),
    }
    options = client_security(load_settings(env=env, cwd=tmp_path).kafka_security)
    assert options["security_protocol"] == "SASL_SSL"
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [
        ((("commonName", "jamsos test CA"),),)
    ]


@pytest.mark.parametrize(
    "protocol", ["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"], ids=str.lower
)
def test_faststream_broker_gets_the_same_arguments_as_the_raw_clients(
    protocol: str, tmp_path: Path
) -> None:
    env = {**SCRAM_ENV, "JAMSOS_KAFKA_SECURITY_PROTOCOL": protocol}
    security = load_settings(env=env, cwd=tmp_path).kafka_security
    raw = dict(client_security(security))
    parsed = parse_security(broker_security(security))
    assert (parsed.pop("ssl_context", None) is not None) is security.tls
    assert (raw.pop("ssl_context", None) is not None) is security.tls
    assert parsed == raw


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"JAMSOS_KAFKA_SECURITY_PROTOCOL": "KERBEROS"}, "JAMSOS_KAFKA_SECURITY_PROTOCOL"),
        ({**SCRAM_ENV, "JAMSOS_KAFKA_SASL_MECHANISM": "GSSAPI"}, "JAMSOS_KAFKA_SASL_MECHANISM"),
        ({**SCRAM_ENV, "JAMSOS_KAFKA_SASL_USERNAME": ""}, "JAMSOS_KAFKA_SASL_USERNAME"),
        ({**SCRAM_ENV, "JAMSOS_KAFKA_SASL_PASSWORD": ""}, "JAMSOS_KAFKA_SASL_PASSWORD"),
        (
            {
                **SCRAM_ENV,
                "JAMSOS_KAFKA_SASL_PASSWORD": "",
                "JAMSOS_KAFKA_SASL_PASSWORD_FILE": "/nonexistent/password",
            },
            "JAMSOS_KAFKA_SASL_PASSWORD_FILE=/nonexistent/password",
        ),
    ],
    ids=["protocol", "mechanism", "no-user", "no-password", "unreadable-file"],
)
def test_unusable_kafka_security_settings_are_refused_with_the_variable_named(
    env: dict[str, str], says: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=says):
        load_settings(env=env, cwd=tmp_path)


async def test_outbox_relay_producer_is_built_with_the_sasl_arguments(tmp_path: Path) -> None:
    settings = load_settings(env={**SCRAM_ENV, "JAMSOS_KAFKA_BOOTSTRAP": "k:9092"}, cwd=tmp_path)
    producer = make_producer(settings, "test")
    client = producer.client
    assert (client._security_protocol, client._sasl_mechanism) == (
        "SASL_PLAINTEXT",
        "SCRAM-SHA-512",
    )
    assert (client._sasl_plain_username, client._sasl_plain_password) == (
        "jamsos-registration",
        "s3cret",
    )


CLIENTS = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient"}


def _client_calls() -> list[tuple[str, int, ast.Call]]:
    found = []
    for path in sorted((ROOT / "services" / "jamsos").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in CLIENTS or name == "ConcurrentStartBroker":
                    found.append((f"{path.relative_to(ROOT)}:{node.lineno}", 0, node))
    return found


def test_every_kafka_client_in_the_code_is_given_the_security_arguments() -> None:
    calls = _client_calls()
    assert len(calls) >= 8  # producer, consumers and admin clients of ops/health/bench/monitor
    missing = [
        where
        for where, _, call in calls
        if not any(k.arg is None or k.arg == "security" for k in call.keywords)
    ]
    assert missing == [], "Kafka clients built without client_security/broker_security"
