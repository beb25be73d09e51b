"""Log lines never carry a whole NIK or phone number."""

from __future__ import annotations

import io
import logging

import pytest

from jamsos.adapters.logs import FORMAT, MaskingFormatter, mask


def test_mask_keeps_first_four_and_last_two_digits_of_a_nik() -> None:
    assert mask("nik=3319014506900001 ok") == "nik=3319**********01 ok"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("+6281234567890", "+6281*******90"),
        ("081234567890", "081*******90"),
        ("0812-3456-7890", "081*******90"),
        ("62 is not a phone, 6281234567890 is", "62 is not a phone, 6281*******90 is"),
    ],
)
def test_mask_hides_the_middle_of_indonesian_phone_numbers(text: str, masked: str) -> None:
    assert mask(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "jamsos.registration.submitted.v1[2]@1234567",
        "ms=12 records=500 offset=33190145069000011",  # 17 digits: not a NIK
        "2025-08-01T09:30:00+07:00",
        "DISDAG-2025-000123",
    ],
)
def test_mask_leaves_offsets_dates_and_ids_alone(text: str) -> None:
    assert mask(text) == text


def test_masking_formatter_masks_arguments_and_tracebacks() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(MaskingFormatter(FORMAT))
    logger = logging.getLogger("test.masking")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("rejected %s", {"nik": "3319014506900001", "phone": "+6281234567890"})
        try:
            raise ValueError("input_value='3319014506900001'")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert "3319014506900001" not in text and "81234567890" not in text
    assert text.count("3319**********01") == 3  # message and the traceback's two lines


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ('{"street": "Jl. Sunan Muria 4 RT 02", "village_code": "3319012001"}',
         '{"street": "***", "village_code": "3319012001"}'),
        ("{'street': 'Gang Mawar 7'}", "{'street': '***'}"),
        ('input {\\"street\\": \\"Jl. Kenanga 9\\"}', 'input {\\"street\\": \\"***\\"}'),
        ("alamat='Jl. \"A\" 1' ok", "alamat='***' ok"),
        ('street="" next', 'street="***" next'),
    ],
)  # fmt: skip
def test_mask_hides_street_addresses_quoted_from_a_payload(text: str, masked: str) -> None:
    assert mask(text) == masked
