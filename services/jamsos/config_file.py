"""The packaged defaults (data/defaults.yaml) with the config file over them (JAMSOS_CONFIG, or
./jamsos.yaml): the policy, the agency registry and the invoice letterhead.

A mistake in the file (a misspelt key, a list where a mapping belongs, a value of the wrong
type) is a ConfigError naming the file and the key, which the CLI prints as one `error:` line.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from functools import cache
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
from jamsos.domain.policy import Agency, Policy

SECTIONS = ("policy", "agencies", "documents")
AGENCY_KEYS = ("code", "name", "sector", "payer_code", "funding_source", "quota", "public_keys")
_AGENCY_NEEDS = ("code", "name", "payer_code", "funding_source")


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message says which and what to do."""


@cache
def _packaged() -> dict[str, Any]:
    """The packaged data/defaults.yaml, parsed once per process."""
    text = resources.files("jamsos").joinpath("data/defaults.yaml").read_text("utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def defaults() -> dict[str, Any]:
    """A fresh copy of the packaged defaults (`merged` changes it)."""
    return copy.deepcopy(_packaged())


def _unknown(where: str, key: object, known: Any) -> ConfigError:
    close = difflib.get_close_matches(str(key), list(known), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
    return ConfigError(f"{where}: {key!r} is not a setting here ({hint})")


def _mapping(where: str, value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: must be a mapping of {what}, not {type(value).__name__}")
    return value


def read(path: Path, shown: str) -> dict[str, Any]:
    """The config file's sections, checked for shape; `shown` is how errors name the file."""
    try:
        loaded = yaml.safe_load(path.read_text("utf-8"))
    except OSError as error:
        raise ConfigError(f"{shown}: cannot read it ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{shown}: is not UTF-8 text") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{shown}: is not valid YAML{at}") from None
    if loaded is None:
        return {}
    doc = _mapping(shown, loaded, ", ".join(SECTIONS))
    for key in doc:
        if key not in SECTIONS:
            raise _unknown(shown, key, SECTIONS)
    if "policy" in doc:
        _mapping(f"{shown}: policy", doc["policy"], "policy settings")
    if "agencies" in doc:
        if not isinstance(doc["agencies"], list):
            raise ConfigError(f"{shown}: agencies: must be a list of agencies")
        for n, agency in enumerate(doc["agencies"], 1):
            where = f"{shown}: agencies, entry {n}"
            for key in _mapping(where, agency, ", ".join(AGENCY_KEYS)):
                if key not in AGENCY_KEYS:
                    raise _unknown(where, key, AGENCY_KEYS)
            missing = [k for k in _AGENCY_NEEDS if agency.get(k) is None]
            if missing:
                raise ConfigError(f"{where}: needs {', '.join(missing)}")
    if "documents" in doc:
        groups = _packaged()["documents"]
        documents = _mapping(f"{shown}: documents", doc["documents"], ", ".join(groups))
        for group, values in documents.items():
            if group not in groups:
                raise _unknown(f"{shown}: documents", group, groups)
            for key in _mapping(f"{shown}: documents.{group}", values, ", ".join(groups[group])):
                if key not in groups[group]:
                    raise _unknown(f"{shown}: documents.{group}", key, groups[group])
    return doc


def merged(doc: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`doc` with a config file's sections over it: policy merged, agencies replaced, each
    letterhead group merged."""
    if "policy" in override:
        doc["policy"] = {**doc["policy"], **override["policy"]}
    if "agencies" in override:
        doc["agencies"] = override["agencies"]
    for group, values in (override.get("documents") or {}).items():
        doc["documents"][group] = {**doc["documents"][group], **values}
    return doc


def _public_keys(doc: Mapping[str, Any]) -> tuple[str, ...]:
    raw = doc.get("public_keys") or ()
    return tuple(str(k) for k in ([raw] if isinstance(raw, str) else raw))


def _agency(a: Mapping[str, Any], keys: Mapping[str, list[str]], where: str) -> Agency:
    quota = a.get("quota")
    if quota is not None and (isinstance(quota, bool) or not isinstance(quota, int)):
        raise ConfigError(f"{where}: quota: {quota!r} is not a whole number (or null: no quota)")
    return Agency(
        code=str(a["code"]),
        name=str(a["name"]),
        sector=str(a.get("sector", "")),
        payer_code=str(a["payer_code"]),
        funding_source=str(a["funding_source"]),
        quota=quota,
        public_keys=_public_keys(a) + tuple(keys.get(str(a["code"]), ())),
    )


def policy(
    doc: Mapping[str, Any], overrides: Mapping[str, Any], keys: Mapping[str, list[str]], shown: str
) -> Policy:
    """The policy of `doc` with `overrides` (from JAMSOS_POLICY_*) and the agencies' public
    keys from JAMSOS_AGENCY_KEYS_DIR."""
    agencies = tuple(
        _agency(a, keys, f"{shown}: agencies, entry {n}")
        for n, a in enumerate(doc.get("agencies") or (), 1)
    )
    try:
        return Policy.configured({**doc["policy"], **overrides}, agencies)
    except ValueError as error:
        raise ConfigError(f"{shown}: policy: {error}") from None


def letterhead(doc: Mapping[str, Any], shown: str) -> Letterhead:
    """The invoice documents' issuer, addressee, payment account and signatory."""
    raw = doc["documents"]
    strings = {group: {k: str(v) for k, v in raw[group].items()} for group in raw}
    payment = strings["payment"]
    try:
        method = PaymentMethod(payment["method"])
    except ValueError:
        known = ", ".join(PaymentMethod)
        raise ConfigError(
            f"{shown}: documents.payment.method: {payment['method']!r} is not one of {known}"
        ) from None
    return Letterhead(
        issuer=Issuer(**strings["issuer"]),
        addressee=Addressee(**strings["addressee"]),
        payment=PaymentAccount(
            method=method,
            bank=payment["bank"],
            account_no=payment["account_no"],
            account_name=payment["account_name"],
        ),
        signatory=Signatory(**strings["signatory"]),
    )
