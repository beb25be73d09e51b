"""Log output of jamsos processes: one format, and NIKs and phone numbers masked in every line.

Masking is done by the formatter of the process's log handler, so it covers every logger
(jamsos's, FastStream's, aiokafka's, uvicorn's) and every path that may carry a payload into a
message (a validation error quotes the value it rejected).
"""

from __future__ import annotations

import logging
import re

# A NIK is 16 digits; not part of a longer digit run (offsets, hashes stay as they are).
_NIK = re.compile(r"(?<!\d)(\d{4})\d{10}(\d{2})(?!\d)")
# Indonesian mobile numbers: +62 / 62 / 0, then 8 and 8-11 more digits, with optional single
# spaces or dashes between groups (as clerks type them).
_PHONE = re.compile(r"(?<![\w+])(\+62|62|0)(8[\d][\d -]{6,14}\d)(?!\d)")

# A street address as a payload quotes it: the value of a `street` / `alamat` key, in JSON or
# in a Python repr (a validation error, a traceback's locals); kept: the key.
_STREET = re.compile(
    r"""(?P<key>(?:\\?["'])?(?:street|alamat)(?:\\?["'])?\s*[:=]\s*)"""
    r"""(?P<q>\\?["'])(?P<value>.*?)(?<!\\)(?P=q)""",
    re.IGNORECASE,
)

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def _phone(match: re.Match[str]) -> str:
    prefix, rest = match.group(1), match.group(2)
    digits = [c for c in rest if c.isdigit()]
    if not 9 <= len(digits) <= 12:
        return match.group(0)
    return prefix + digits[0] + digits[1] + "*" * (len(digits) - 4) + digits[-2] + digits[-1]


def mask(text: str) -> str:
    """`text` with every NIK and Indonesian phone number masked (first and last digits kept,
    so that an operator can still tell two apart: `3319**********12`, `+6281*******90`), and
    the value of every `street`/`alamat` key replaced by `***`."""
    text = _NIK.sub(lambda m: m.group(1) + "*" * 10 + m.group(2), text)
    text = _STREET.sub(lambda m: f"{m['key']}{m['q']}***{m['q']}", text)
    return _PHONE.sub(_phone, text)


class MaskingFormatter(logging.Formatter):
    """A formatter whose output (message, arguments and traceback) is masked."""

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


def configure(level: str | int = logging.WARNING) -> None:
    """Log to standard error with masked lines; `level` applies to the root logger."""
    handler = logging.StreamHandler()
    handler.setFormatter(MaskingFormatter(FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
