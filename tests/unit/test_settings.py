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
