"""Settings: packaged defaults, then the config file, then JAMSOS_* variables."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from jamsos.domain.letterhead import PaymentMethod
from jamsos.domain.policy import CoverageStartRule
from jamsos.settings import ConfigError, load_settings


def test_defaults_hold_contract_policy_and_six_agencies(tmp_path: Path) -> None:
    settings = load_settings(env={}, cwd=tmp_path)
    assert (settings.policy.min_age, settings.policy.max_age) == (18, 65)
    assert settings.policy.ceiling == 26_000
    assert settings.policy.coverage_start_rule is CoverageStartRule.NEXT_MONTH
    assert {a.code for a in settings.policy.agencies} == {
        "DISDAG",
        "DISHUB",
        "BPBD",
        "DINSOS",
        "DISNAKERPERINKOP",
        "DISPERTANPANGAN",
    }
    assert {a.funding_source for a in settings.policy.agencies} == {"APBD", "DBHCHT"}
    assert settings.kafka_bootstrap is None and settings.database_url is None
    assert settings.kafka_idempotence is False


def test_config_file_replaces_agencies_and_merges_policy(tmp_path: Path) -> None:
    (tmp_path / "jamsos.yaml").write_text(
        "policy: {max_age: 60}\n"
        "agencies:\n"
        "  - {code: DISKOMINFO, name: Dinas Kominfo, payer_code: PEMKAB-KUDUS,"
        " funding_source: APBD, quota: 10}\n",
        "utf-8",
    )
    settings = load_settings(env={}, cwd=tmp_path)
    assert settings.policy.max_age == 60 and settings.policy.min_age == 18
    [agency] = settings.policy.agencies
    assert (agency.code, agency.quota) == ("DISKOMINFO", 10)


def test_environment_overrides_file_and_defaults(tmp_path: Path) -> None:
    settings = load_settings(
        env={
            "JAMSOS_KAFKA_BOOTSTRAP": "kafka:9092",
            "JAMSOS_DATABASE_URL": "postgresql://db/jamsos",
            "JAMSOS_KAFKA_IDEMPOTENCE": "true",
            "JAMSOS_PARTITIONS": "12",
            "JAMSOS_POLICY_CEILING": "31150",
            "JAMSOS_POLICY_COVERAGE_START_RULE": "SAME_MONTH",
        },
        cwd=tmp_path,
    )
    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.kafka_idempotence is True
    assert settings.partitions == 12
    assert settings.policy.ceiling == 31_150
    assert settings.policy.coverage_start_rule is CoverageStartRule.SAME_MONTH


def test_config_file_overrides_invoice_letterhead_per_group(tmp_path: Path) -> None:
    (tmp_path / "jamsos.yaml").write_text(
        "documents:\n"
        "  payment: {method: BANK_ACCOUNT, account_no: '0011223344'}\n"
        "  signatory: {nip: '198001012005011002'}\n",
        "utf-8",
    )
    letterhead = load_settings(env={}, cwd=tmp_path).letterhead
    assert letterhead.payment.method is PaymentMethod.BANK_ACCOUNT
    assert letterhead.payment.account_no == "0011223344"
    assert letterhead.payment.bank == "Bank Jateng"  # the rest of the group stays
    assert letterhead.signatory.nip == "198001012005011002"
    assert letterhead.issuer.regency == "Pemerintah Kabupaten Kudus"
    assert letterhead.addressee.name.startswith("Kepala Kantor Cabang BPJS Ketenagakerjaan")


def test_database_password_file_fills_the_url_password(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cr:t/@x\n", "utf-8")
    settings = load_settings(
        env={
            "JAMSOS_DATABASE_URL": "postgresql://jamsos_billing_login@postgres:5432/jamsos",
            "JAMSOS_DATABASE_PASSWORD_FILE": str(secret),
        },
        cwd=tmp_path,
    )
    assert settings.database_url is not None
    url = urlsplit(settings.database_url)
    assert (url.username, unquote(url.password or ""), url.hostname, url.port, url.path) == (
        "jamsos_billing_login",
        "s3cr:t/@x",
        "postgres",
        5432,
        "/jamsos",
    )


def test_an_unreadable_database_password_file_is_one_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="JAMSOS_DATABASE_PASSWORD_FILE"):
        load_settings(
            env={
                "JAMSOS_DATABASE_URL": "postgresql://u@h/d",
                "JAMSOS_DATABASE_PASSWORD_FILE": str(tmp_path / "missing"),
            },
            cwd=tmp_path,
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "documnets:\n  issuer: {city: Kudus}\n",
            "jamsos.yaml: 'documnets' is not a setting here (did you mean 'documents'?)",
        ),
        ("documents:\n  - issuer\n", "jamsos.yaml: documents: must be a mapping of issuer,"),
        (
            "documents:\n  payment: {bnak: X}\n",
            "jamsos.yaml: documents.payment: 'bnak' is not a setting here (did you mean 'bank'?)",
        ),
        (
            "documents:\n  payment: {method: CASH}\n",
            "jamsos.yaml: documents.payment.method: 'CASH' is not one of",
        ),
        ("policy: {min_age: abc}\n", "jamsos.yaml: policy: min_age: 'abc' is not a whole number"),
        ("policy: {min_agee: 20}\n", "jamsos.yaml: policy: 'min_agee' is not a policy setting"),
        (
            "policy: {require_signatures: ya}\n",
            "jamsos.yaml: policy: require_signatures: 'ya' is not true or false",
        ),
        ("policy: [1, 2]\n", "jamsos.yaml: policy: must be a mapping of policy settings"),
        ("agencies: {code: X}\n", "jamsos.yaml: agencies: must be a list of agencies"),
        (
            "agencies:\n  - {code: X, name: Y}\n",
            "jamsos.yaml: agencies, entry 1: needs payer_code, funding_source",
        ),
        (
            "agencies:\n  - {code: X, name: Y, payer_code: P, funding_source: APBD, quota: ten}\n",
            "jamsos.yaml: agencies, entry 1: quota: 'ten' is not a whole number",
        ),
        ("policy: [1\n", "jamsos.yaml: is not valid YAML at line 2"),
        ("- just\n- a list\n", "jamsos.yaml: must be a mapping of policy, agencies, documents"),
    ],
)
def test_a_mistake_in_the_config_file_is_a_config_error_naming_file_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "jamsos.yaml").write_text(text, "utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(env={}, cwd=tmp_path)
    assert str(raised.value).startswith(message), str(raised.value)


def test_an_unusable_policy_variable_is_a_config_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="JAMSOS_POLICY_MIN_AGE: min_age: 'x' is not a whole"):
        load_settings(env={"JAMSOS_POLICY_MIN_AGE": "x"}, cwd=tmp_path)
    with pytest.raises(ConfigError, match=r"JAMSOS_POLICY_COVERAGE_START_RULE: .* not one of"):
        load_settings(env={"JAMSOS_POLICY_COVERAGE_START_RULE": "LATER"}, cwd=tmp_path)


def test_a_config_file_elsewhere_is_named_by_its_path(tmp_path: Path) -> None:
    config = tmp_path / "etc" / "jamsos.yaml"
    config.parent.mkdir()
    config.write_text("documnets: {}\n", "utf-8")
    with pytest.raises(ConfigError, match=f"^{config}: 'documnets'"):
        load_settings(env={"JAMSOS_CONFIG": str(config)}, cwd=tmp_path / "work")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("JAMSOS_LEDGER_BATCH_SIZE", "abc", "not a whole number"),
        ("JAMSOS_BATCH_SIZE", "0", "must be at least 1"),  # 0 used to mean the default, silently
        ("JAMSOS_RETRY_MAX_SECONDS", "-1", "must be at least 0"),
        ("JAMSOS_POISON_MAX_SHARE", "nan", "must be at least 0"),
        ("JAMSOS_KAFKA_LINGER_MS", "2.5", "not a whole number"),
    ],
)
def test_an_unusable_numeric_variable_is_a_config_error_naming_it(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}='{value}': {message}$"):
        load_settings({variable: value}, cwd=tmp_path)


def test_zero_stays_usable_where_it_means_something(tmp_path: Path) -> None:
    env = {"JAMSOS_HTTP_PORT": "0", "JAMSOS_KAFKA_LINGER_MS": " 0 ", "JAMSOS_BATCH_SIZE": "1"}
    settings = load_settings(env, cwd=tmp_path)
    assert (settings.http_port, settings.kafka_linger_ms, settings.batch_size) == (0, 0, 1)
