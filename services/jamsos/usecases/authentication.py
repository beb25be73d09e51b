"""Whether a submission or termination request speaks for the agency it names.

CONTRACT.md, "Agency signatures (v1)": with `require_signatures`, a record whose
`jamsos-signature` is missing or does not verify with one of the named agency's keys, or whose
`agency_code` differs from its `jamsos-agency` header, goes to the DLQ as `UNAUTHENTICATED`.
The use cases ask before they write anything for the record (no inbox row, no NIK claim, no
outcome), so its `(agency_code, submission_id)` stays free for the real agency.

An agency that is not registered has no keys: with signatures required its records are
UNAUTHENTICATED (not rejected as UNKNOWN_AGENCY) — nothing from an unknown sender is trusted
enough to produce an outcome.
"""

from __future__ import annotations

from jamsos.domain.policy import Policy
from jamsos.domain.signatures import AGENCY_HEADER, SIGNATURE_HEADER, verifies
from jamsos.usecases.messages import Message

UNAUTHENTICATED = "UNAUTHENTICATED"


def unauthenticated(record: Message, agency_code: str, policy: Policy) -> str | None:
    """The dead-letter error when `record` must be signed by `agency_code` and is not; None
    when it is (or when signatures are not required)."""
    if not policy.require_signatures:
        return None
    said = record.header(AGENCY_HEADER)
    signature = record.header(SIGNATURE_HEADER)
    if said is None or signature is None:
        return f"{UNAUTHENTICATED}: not signed (headers {AGENCY_HEADER}, {SIGNATURE_HEADER})"
    signer = said.decode("utf-8", "replace")[:64]
    if said != agency_code.encode("utf-8"):
        return f"{UNAUTHENTICATED}: agency_code {agency_code[:64]!r} but signed as {signer!r}"
    agency = policy.agency(agency_code)
    if agency is None or not agency.public_keys:
        return f"{UNAUTHENTICATED}: no public key of agency {signer!r} is configured"
    if not verifies(agency.public_keys, record.value, signature):
        return f"{UNAUTHENTICATED}: the signature does not verify with a key of {signer!r}"
    return None
