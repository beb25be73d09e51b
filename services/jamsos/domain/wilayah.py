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

from rapidfuzz import fuzz, process

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


_PREFIXES = ("kelurahan", "kecamatan", "desa", "kel", "kec", "ds")


def _fold(name: str) -> str:
    """A place name as clerks write it, folded: case, spacing, punctuation and a leading
    "Desa"/"Kel."/"Kelurahan"/"Kec." ignored ("Desa Loram  Kulon" == "loramkulon")."""
    text = name.strip().lower()
    for prefix in _PREFIXES:
        if text.startswith(prefix) and text[len(prefix) : len(prefix) + 1] in (" ", ".", ""):
            text = text[len(prefix) :]
            break
    return "".join(ch for ch in text if ch.isalnum())


@cache
def find_kecamatan(name: str) -> str | None:
    """The 6-digit code of the Kudus kecamatan with this name (or code), if any."""
    digits = name.replace(".", "").strip()
    if digits in kecamatan():
        return digits
    folded = _fold(name)
    for code, kec_name in kecamatan().items():
        if _fold(kec_name) in (folded, f"kota{folded}"):  # "Kudus" is Kota Kudus
            return code
    return None


@cache
def _by_folded_name() -> Mapping[str, list[Village]]:
    index: dict[str, list[Village]] = {}
    for village in villages().values():
        index.setdefault(_fold(village.name), []).append(village)
    return MappingProxyType(index)


def resolve_village(name: str, kecamatan_name: str | None = None) -> Village | str:
    """The Kudus village a clerk means by `name`, or why it cannot be told (Indonesian text).

    Names are compared folded (see `_fold`). A name found in several kecamatan is resolved by
    `kecamatan_name`; a partial name ("Loram") is never guessed: the candidates are listed.
    """
    wanted = _fold(name)
    kec_code = find_kecamatan(kecamatan_name) if kecamatan_name else None
    if kecamatan_name and kec_code is None:
        return f"Kecamatan {kecamatan_name!r} tidak ada di Kabupaten Kudus"
    exact = _by_folded_name().get(wanted, [])
    here = [v for v in exact if kec_code is None or v.kecamatan_code == kec_code]
    if len(here) == 1:
        return here[0]
    if len(here) > 1:
        options = ", ".join(f"Kec. {v.kecamatan_name}" for v in here)
        return f"Desa/Kelurahan {name!r} ada di beberapa kecamatan ({options}): isi kolom Kecamatan"
    if exact:
        where = ", ".join(f"Kec. {v.kecamatan_name}" for v in exact)
        return f"Desa/Kelurahan {name!r} tidak ada di Kecamatan {kecamatan_name}, tetapi di {where}"
    partial = [
        v
        for v in villages().values()
        if wanted and wanted in _fold(v.name) and (kec_code is None or v.kecamatan_code == kec_code)
    ]
    if partial:
        options = ", ".join(f"{v.name} (Kec. {v.kecamatan_name})" for v in partial[:5])
        return f"Desa/Kelurahan {name!r} kurang lengkap: maksudnya {options}?"
    folded = {code: _fold(v.name) for code, v in villages().items()}
    near = process.extractOne(wanted, folded, scorer=fuzz.ratio, score_cutoff=80)
    hint = f"; mungkin maksudnya {villages()[near[2]].name}?" if near else ""
    return f"Desa/Kelurahan {name!r} tidak ditemukan di Kabupaten Kudus{hint}"
