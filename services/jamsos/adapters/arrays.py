"""Array parameters sent as one PostgreSQL array literal instead of a list.

asyncpg encodes a list parameter element by element, with a few `isinstance` checks each:
~1 µs of Python per short text on the 2-core development machine (3 December 2026), against
~0.14 µs for the same texts joined into one literal in C (`str.join`), which PostgreSQL parses
in about the time it decodes the binary array. The hot statements of registration,
verification and the billing ledger pass their short text columns this way, as
`$n::text::text[]`. Long texts with many quotes (JSON payloads) stay lists: PostgreSQL's array
parser is slow on them (README, "Array parameters").

The planner keeps the literal's cast instead of folding it to a constant, so a generic plan of
`= ANY($n::text::text[])` can differ from the list's (a reviewer saw a bitmap heap scan where
the list gave a sequential scan, 2,000 values on 200,000 rows); joins on `unnest` plan alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast


def text_array(values: Sequence[str | None]) -> str:
    """`values` as one PostgreSQL array literal (`{"a","b",NULL}`), for a `$n::text::text[]`
    parameter. Every text is double-quoted, so commas, braces, spaces and NULL-like words are
    plain text; a backslash or a double quote is escaped with a backslash; None is NULL."""
    if not values:
        return "{}"
    if None in values:
        return "{" + ",".join("NULL" if v is None else _quoted(v) for v in values) + "}"
    texts = cast(Sequence[str], values)  # no None among them
    joined = '","'.join(texts)
    if "\\" in joined or joined.count('"') != 2 * (len(texts) - 1):  # beyond the separators
        joined = '","'.join(_escaped(v) for v in texts)
    return '{"' + joined + '"}'


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _quoted(value: str) -> str:
    return '"' + _escaped(value) + '"'
