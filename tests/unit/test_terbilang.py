"""Amounts in Indonesian words (terbilang) as printed on invoices and credit notes."""

from __future__ import annotations

import pytest

from jamsos.domain.terbilang import terbilang, terbilang_rupiah


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        (0, "nol"),
        (1, "satu"),
        (7, "tujuh"),
        (10, "sepuluh"),
        (11, "sebelas"),
        (12, "dua belas"),
        (19, "sembilan belas"),
        (20, "dua puluh"),
        (21, "dua puluh satu"),
        (99, "sembilan puluh sembilan"),
        (100, "seratus"),
        (101, "seratus satu"),
        (110, "seratus sepuluh"),
        (111, "seratus sebelas"),
        (215, "dua ratus lima belas"),
        (1_000, "seribu"),
        (1_001, "seribu satu"),
        (1_100, "seribu seratus"),
        (2_000, "dua ribu"),
        (11_000, "sebelas ribu"),
        (16_800, "enam belas ribu delapan ratus"),
        (100_000, "seratus ribu"),
        (101_000, "seratus satu ribu"),
        (1_000_000, "satu juta"),
        (1_000_001, "satu juta satu"),
        (21_000_000, "dua puluh satu juta"),
        (1_000_000_000, "satu miliar"),
        (1_000_000_000_000, "satu triliun"),
        (1_000_000_000_000_000, "seribu triliun"),
        (2_500_000_000_000_007, "dua ribu lima ratus triliun tujuh"),
    ],
)
def test_terbilang_of_amount_reads_as_indonesian_words(amount: int, words: str) -> None:
    assert terbilang(amount) == words


def test_terbilang_of_a_full_regency_invoice_is_in_rupiah() -> None:
    # 26,000 participants × Rp16,800 (CONTRACT.md example totals)
    assert terbilang_rupiah(436_800_000) == (
        "empat ratus tiga puluh enam juta delapan ratus ribu rupiah"
    )


def test_terbilang_of_a_mixed_amount_names_every_scale() -> None:
    assert terbilang(1_234_567_891_011) == (
        "satu triliun dua ratus tiga puluh empat miliar lima ratus enam puluh tujuh juta"
        " delapan ratus sembilan puluh satu ribu sebelas"
    )


def test_terbilang_of_negative_amount_reads_minus() -> None:
    assert terbilang_rupiah(-16_800) == "minus enam belas ribu delapan ratus rupiah"


def test_terbilang_skips_empty_groups() -> None:
    assert terbilang(5_000_000_020) == "lima miliar dua puluh"
