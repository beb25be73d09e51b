"""Whether a message is signed by an agency (CONTRACT.md, "Agency signatures (v1)"): the two
header names and Ed25519 verification with `cryptography` (computation only: no I/O).

Public keys are PEM text (`Agency.public_keys`); each is parsed once per process (cached), so
verifying a batch costs one Ed25519 check per record. Key files and signing are
adapters/signatures.py.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

AGENCY_HEADER = "jamsos-agency"
SIGNATURE_HEADER = "jamsos-signature"


class BadKey(ValueError):
    """A key file or PEM text that cannot be used; the message says which and why."""


def public_key(pem: str) -> Ed25519PublicKey:
    """The Ed25519 public key in `pem`; BadKey when it is not one."""
    return _public_key(pem.strip())


@functools.lru_cache(maxsize=1024)
def _public_key(pem: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError, TypeError) as error:
        raise BadKey(f"not a PEM public key ({error})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BadKey(f"not an Ed25519 key ({type(key).__name__})")
    return key


def verifies(pems: Sequence[str], value: bytes, signature_b64: bytes) -> bool:
    """Whether `signature_b64` (base64 of an Ed25519 signature over `value`) verifies with one
    of the keys `pems`. Unusable keys and undecodable signatures simply do not verify."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    for pem in pems:
        try:
            public_key(pem).verify(signature, value)
        except (InvalidSignature, BadKey):
            continue
        return True
    return False
