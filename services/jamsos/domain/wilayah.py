"""Kabupaten Kudus's kecamatan and villages, from the packaged data/kudus_wilayah.csv.

Source: Kemendagri kode wilayah (Kepmendagri 300.2.2-2138/2025) via github.com/cahyadsn/wilayah,
see shared/domain/SOURCE.md. A village code's 4th segment starting with 1 is a kelurahan,
with 2 a desa. Codes here are undotted: 6 digits for a kecamatan, 10 for a village.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from types import MappingProxyType
from typing import Literal

_KIND_BY_PREFIX: Mapping[str, Literal["desa", "kelurahan"]] = {"1": "kelurahan", "2": "desa"}


@dataclass(frozen=True)
class Village:
    """A desa or kelurahan of Kudus and its kecamatan."""

    code: str
    name: str
    kecamatan_code: str
    kecamatan_name: str
    kind: Literal["desa", "kelurahan"]


@cache
def _rows() -> tuple[tuple[str, str, str], ...]:
    text = (files("jamsos") / "data" / "kudus_wilayah.csv").read_text(encoding="utf-8")
    return tuple(
        (row["code"], row["name"], row["level"]) for row in csv.DictReader(io.StringIO(text))
    )


@cache
def kecamatan() -> Mapping[str, str]:
    """Kecamatan name by 6-digit code, e.g. "331901" -> "Kaliwungu"."""
    return MappingProxyType(
        {code.replace(".", ""): name for code, name, level in _rows() if level == "district"}
    )


@cache
def villages() -> Mapping[str, Village]:
    """Every Kudus village by 10-digit code, e.g. "3319012001"."""
    districts = kecamatan()
    result: dict[str, Village] = {}
    for dotted, name, level in _rows():
        if level != "village":
            continue
        segments = dotted.split(".")
        kecamatan_code = "".join(segments[:3])
        kind = _KIND_BY_PREFIX.get(segments[3][:1])
        if kind is None:
            raise ValueError(f"village code {dotted} is neither a kelurahan (1…) nor a desa (2…)")
        result[dotted.replace(".", "")] = Village(
            code=dotted.replace(".", ""),
            name=name,
            kecamatan_code=kecamatan_code,
            kecamatan_name=districts[kecamatan_code],
            kind=kind,
        )
    return MappingProxyType(result)


def find_village(code: str) -> Village | None:
    """The Kudus village with this 10-digit code, or None if it is not one."""
    return villages().get(code)
