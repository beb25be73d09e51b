"""Agency signatures without I/O beyond files: keys, the UNAUTHENTICATED decision, settings,
and the CLI's key handling (`jamsos keys generate`, `--key` mistakes as one line)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from jamsos.adapters.signatures import Signer, check_public_keys, generate, load_private_key
from jamsos.domain.policy import Agency, Policy
from jamsos.domain.signatures import AGENCY_HEADER, SIGNATURE_HEADER, BadKey, verifies
from jamsos.settings import ConfigError, load_settings
from jamsos.usecases.authentication import unauthenticated
from jamsos.usecases.messages import Message
from tests.conftest import clean_env

VALUE = json.dumps({"agency_code": "DISDAG", "submission_id": "S-1"}).encode()


def pair(tmp_path: Path, code: str, sub: str = "keys") -> tuple[Signer, str]:
    key, pub = generate(code, tmp_path / sub)
    return Signer(code, load_private_key(key)), pub.read_text()


def policy(required: bool = True, **keys: list[str]) -> Policy:
    return Policy(
        agencies=tuple(
            Agency(c, c, "", "PEMKAB-KUDUS", "APBD", public_keys=tuple(keys.get(c, ())))
            for c in ("DISDAG", "DISHUB")
        ),
        require_signatures=required,
    )


def inbound(headers: list[tuple[str, bytes]], value: bytes = VALUE) -> Message:
    return Message("t", 0, 0, None, value, tuple(headers))


def test_unauthenticated_accepts_only_the_named_agencys_signature_over_the_exact_bytes(
    tmp_path: Path,
) -> None:
    disdag, disdag_pub = pair(tmp_path, "DISDAG")
    dishub, dishub_pub = pair(tmp_path, "DISHUB")
    rules = policy(DISDAG=[disdag_pub], DISHUB=[dishub_pub])
    assert unauthenticated(inbound(disdag.headers(VALUE)), "DISDAG", rules) is None
    cases = {
        "not signed": [],
        "only the agency header": [(AGENCY_HEADER, b"DISDAG")],
        "signed as DISHUB": dishub.headers(VALUE),
        "DISHUB's key": [(AGENCY_HEADER, b"DISDAG"), dishub.headers(VALUE)[1]],
        "other bytes": disdag.headers(VALUE + b" "),
        "not base64": [(AGENCY_HEADER, b"DISDAG"), (SIGNATURE_HEADER, b"%%%")],
    }
    for name, headers in cases.items():
        error = unauthenticated(inbound(headers), "DISDAG", rules)
        assert error is not None and error.startswith("UNAUTHENTICATED: "), name


def test_unauthenticated_without_keys_or_unregistered_agency_is_refused(tmp_path: Path) -> None:
    signer, pub = pair(tmp_path, "DISDAG")
    headers = signer.headers(VALUE)
    assert unauthenticated(inbound(headers), "DISDAG", policy()) is not None  # no key known
    ghost = Signer("GHOST", signer._key)
    assert unauthenticated(inbound(ghost.headers(VALUE)), "GHOST", policy(DISDAG=[pub]))


def test_unauthenticated_with_signatures_off_lets_everything_through() -> None:
    assert unauthenticated(inbound([]), "DISDAG", policy(required=False)) is None


def test_verifies_skips_a_malformed_key_and_tries_the_next(tmp_path: Path) -> None:
    signer, pub = pair(tmp_path, "DISDAG")
    signature = dict(signer.headers(VALUE))[SIGNATURE_HEADER]
    assert verifies(["not a key", pub], VALUE, signature)
    assert not verifies(["not a key"], VALUE, signature)


def test_keys_dir_holds_every_code_pub_and_code_anything_pub(tmp_path: Path) -> None:
    _, first = pair(tmp_path, "DISDAG", "a")
    _, second = pair(tmp_path, "DISDAG", "b")
    _, other = pair(tmp_path, "DISHUB", "c")
    keys = tmp_path / "dir"
    keys.mkdir()
    (keys / "DISDAG.pub").write_text(first)
    (keys / "DISDAG.2026-01.pub").write_text(second)
    (keys / "DISHUB.pub").write_text(other)
    (keys / "DISDAG.key").write_text("ignored: not a .pub")
    env = {"JAMSOS_AGENCY_KEYS_DIR": str(keys), "JAMSOS_REQUIRE_SIGNATURES": "true"}
    settings = load_settings(env=env, cwd=tmp_path)
    disdag, dishub = settings.policy.agency("DISDAG"), settings.policy.agency("DISHUB")
    assert disdag is not None and dishub is not None
    assert len(disdag.public_keys) == 2 and len(dishub.public_keys) == 1
    assert settings.policy.require_signatures is True
    assert load_settings(env={}, cwd=tmp_path).policy.require_signatures is False


def test_config_file_public_keys_add_to_the_keys_dir(tmp_path: Path) -> None:
    _, pub = pair(tmp_path, "DISDAG")
    config = tmp_path / "jamsos.yaml"
    config.write_text(
        "policy: {require_signatures: true}\n"
        + "agencies:\n"
        + "  - {code: DISDAG, name: D, payer_code: P, funding_source: APBD, public_keys: ["
        + json.dumps(pub)
        + "]}\n"
    )
    settings = load_settings(env={}, cwd=tmp_path)
    agency = settings.policy.agency("DISDAG")
    assert agency is not None and agency.public_keys == (pub,)
    assert settings.policy.require_signatures is True


def test_unreadable_keys_dir_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="JAMSOS_AGENCY_KEYS_DIR"):
        load_settings(env={"JAMSOS_AGENCY_KEYS_DIR": str(tmp_path / "missing")}, cwd=tmp_path)


def test_malformed_public_key_names_its_agency(tmp_path: Path) -> None:
    with pytest.raises(BadKey, match="public key 1 of agency DISDAG"):
        check_public_keys("DISDAG", ["-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----"])


def in_process(tmp_path: Path, *args: str, **env: str) -> tuple[int, str]:
    """`jamsos ARGS` in this process: the exit code and the one line `main` would print."""
    from typer.testing import CliRunner

    from jamsos.cli import app
    from jamsos.cli.errors import explain

    unset: dict[str, str | None] = {k: None for k in clean_env() if k.startswith("JAMSOS_")}
    result = CliRunner().invoke(
        app, list(args), env={**unset, "JAMSOS_STATE_DIR": str(tmp_path / "state"), **env}
    )
    failure = None if result.exception is None else explain(result.exception)
    if failure is not None:
        return failure.code, f"error: {failure.message}"
    return result.exit_code, result.output


def test_keys_generate_writes_private_key_0600_and_public_key_and_never_overwrites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In this process (a subprocess costs seconds of imports); tests/e2e/test_cli_keys.py
    runs the same command as a clerk would."""
    monkeypatch.chdir(tmp_path)
    code, output = in_process(tmp_path, "keys", "generate", "--agency", "disdag", "--out", "out")
    assert code == 0, output
    key, pub = tmp_path / "out" / "DISDAG.key", tmp_path / "out" / "DISDAG.pub"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert pub.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    signer = Signer("DISDAG", load_private_key(key))
    signature = dict(signer.headers(VALUE))[SIGNATURE_HEADER]
    assert verifies([pub.read_text()], VALUE, signature)
    again = in_process(tmp_path, "keys", "generate", "--agency", "DISDAG", "--out", "out")
    assert again == (2, "error: out/DISDAG.key exists: it is not overwritten (move it away first)")


@pytest.mark.parametrize("problem", ["readable by others", "not a key", "another agency's"])
def test_submit_with_an_unusable_key_file_is_one_line_error(tmp_path: Path, problem: str) -> None:
    key, _ = generate("DISHUB", tmp_path / "k")
    keys_dir = tmp_path / "public"
    keys_dir.mkdir()
    _, disdag_pub = pair(tmp_path, "DISDAG", "d")
    (keys_dir / "DISDAG.pub").write_text(disdag_pub)
    if problem == "readable by others":
        key.chmod(0o644)
    elif problem == "not a key":
        key.write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    file = tmp_path / "s.json"
    file.write_text(json.dumps({"agency_code": "DISDAG", "submission_id": "S-1"}))
    code, line = in_process(
        tmp_path,
        "submit",
        str(file),
        "--agency",
        "DISDAG",
        "--key",
        str(key),
        JAMSOS_AGENCY_KEYS_DIR=str(keys_dir),
        JAMSOS_CONFIG=str(tmp_path / "none.yaml"),
    )
    assert code == 2, line
    expected = {
        "readable by others": "is readable by others (mode 0644): run `chmod 600",
        "not a key": "is not an unencrypted PEM private key",
        "another agency's": "is not a key of DISDAG",
    }[problem]
    assert line.startswith("error: ") and expected in line
