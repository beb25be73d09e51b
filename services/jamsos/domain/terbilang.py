"""An amount in Indonesian words (*terbilang*), as written under the total of an invoice.

Rules (KBBI / common usage on Indonesian financial documents): the units are satu…sembilan;
10 is "sepuluh", 11 "sebelas", 12–19 "dua belas"…"sembilan belas"; tens are "dua puluh"…;
"se-" replaces "satu" before "ratus" and "ribu" (seratus, seribu, but "satu juta", "satu miliar");
scales by thousands: ribu, juta, miliar, triliun (then "seribu triliun"… for larger amounts).
Zero is "nol"; a negative amount (a credit note) reads "minus …".
"""

from __future__ import annotations

_UNITS = (
    "",
    "satu",
    "dua",
    "tiga",
    "empat",
    "lima",
    "enam",
    "tujuh",
    "delapan",
    "sembilan",
)
_SCALES = ("", "ribu", "juta", "miliar")


def _below_thousand(n: int) -> list[str]:
    """Words for 1 ≤ n ≤ 999 (empty for 0)."""
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds == 1:
        words.append("seratus")
    elif hundreds > 1:
        words += [_UNITS[hundreds], "ratus"]
    tens, units = divmod(rest, 10)
    if tens == 1:
        words.append({0: "sepuluh", 1: "sebelas"}.get(units) or f"{_UNITS[units]} belas")
    else:
        if tens > 1:
            words += [_UNITS[tens], "puluh"]
        if units:
            words.append(_UNITS[units])
    return words


def _words(n: int) -> list[str]:
    """Words for n ≥ 1: groups of three digits with their scale, largest first; from 1000
    triliun on, the count of triliun is itself read in words ("seribu triliun")."""
    trillions, n = divmod(n, 1000**4)
    words = [*_words(trillions), "triliun"] if trillions else []
    for power in range(3, -1, -1):
        group = n // 1000**power % 1000
        if not group:
            continue
        if group == 1 and power == 1:
            words.append("seribu")
        else:
            words += _below_thousand(group)
            if power:
                words.append(_SCALES[power])
    return words


def terbilang(amount: int) -> str:
    """`amount` in Indonesian words: 436800000 → "empat ratus tiga puluh enam juta delapan ratus
    ribu"; 0 → "nol"; -16800 → "minus enam belas ribu delapan ratus"."""
    if amount == 0:
        return "nol"
    words = _words(abs(amount))
    return " ".join((["minus"] if amount < 0 else []) + words)


def terbilang_rupiah(amount: int) -> str:
    """The amount in words followed by "rupiah", as written on an invoice."""
    return f"{terbilang(amount)} rupiah"
