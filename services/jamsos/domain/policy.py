"""Policy settings and the agency registry as values.

The defaults have one home: the `policy:` section of the packaged data/defaults.yaml (sources
there: CONTRACT.md, RULES.md), read with importlib.resources like domain/wilayah.py's CSV.
The config file and JAMSOS_POLICY_* override them (settings.py, config_file.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib.resources import files
from types import MappingProxyType
from typing import Any

import yaml


class CoverageStartRule(StrEnum):
    """When coverage starts relative to the enrolment date (Asia/Jakarta)."""

    NEXT_MONTH = "NEXT_MONTH"  # contract default: first day of the month after enrolment
    SAME_MONTH = "SAME_MONTH"  # first day of the month of enrolment


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError("not true or false")


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("not a whole number")
    try:
        return int(value)
    except ValueError:
        raise ValueError("not a whole number") from None


def _rule(value: Any) -> CoverageStartRule:
    try:
        return CoverageStartRule(value)
    except ValueError:
        raise ValueError(f"not one of {', '.join(CoverageStartRule)}") from None


# Each policy setting and how a configured value is read.
_SETTINGS: Mapping[str, Callable[[Any], Any]] = MappingProxyType(
    {
        "min_age": _whole,
        "max_age": _whole,
        "ceiling": _whole,
        "target": _whole,
        "coverage_start_rule": _rule,
        "require_signatures": _flag,
    }
)


@cache
def packaged_defaults() -> Mapping[str, Any]:
    """The `policy:` section of the packaged data/defaults.yaml."""
    text = (files("jamsos") / "data" / "defaults.yaml").read_text(encoding="utf-8")
    return MappingProxyType(dict(yaml.safe_load(text)["policy"]))


def setting(key: str, value: Any) -> Any:
    """`value` read as the policy setting `key`; ValueError saying what is wrong with it."""
    if key not in _SETTINGS:
        raise ValueError(f"{key!r} is not a policy setting (known: {', '.join(_SETTINGS)})")
    try:
        return _SETTINGS[key](value)
    except ValueError as error:
        raise ValueError(f"{key}: {value!r} is {error}") from None


def _default(key: str) -> Callable[[], Any]:
    return lambda: setting(key, packaged_defaults()[key])


@dataclass(frozen=True)
class Agency:
    """An OPD that may propose workers, and who pays for them from which budget."""

    code: str
    name: str
    sector: str
    payer_code: str
    funding_source: str
    quota: int | None = None
    # PEM Ed25519 public keys (config file and JAMSOS_AGENCY_KEYS_DIR): several while a key is
    # rotated. CONTRACT.md, "Agency signatures (v1)".
    public_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    """Eligibility and coverage settings; each default is data/defaults.yaml's."""

    min_age: int = field(default_factory=_default("min_age"))
    max_age: int = field(default_factory=_default("max_age"))
    ceiling: int = field(default_factory=_default("ceiling"))
    target: int = field(default_factory=_default("target"))
    coverage_start_rule: CoverageStartRule = field(default_factory=_default("coverage_start_rule"))
    agencies: tuple[Agency, ...] = ()
    # JAMSOS_REQUIRE_SIGNATURES: submissions and termination requests must be signed by the
    # agency they name (off in development, on in the production compose).
    require_signatures: bool = field(default_factory=_default("require_signatures"))

    @classmethod
    def configured(cls, values: Mapping[str, Any], agencies: tuple[Agency, ...]) -> Policy:
        """The policy with these settings (the defaults for any not given); ValueError naming
        a setting that is unknown or unusable."""
        return cls(agencies=agencies, **{k: setting(k, v) for k, v in values.items()})

    def agency(self, code: str) -> Agency | None:
        """The registered agency with this code, if any."""
        for agency in self.agencies:
            if agency.code == code:
                return agency
        return None
