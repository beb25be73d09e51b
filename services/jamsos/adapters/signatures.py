"""Agency keys and signing (CONTRACT.md, "Agency signatures (v1)"): key files, `jamsos keys
generate`, the Signer of `jamsos submit`. Verifying is domain/signatures.py; what a missing or
bad signature means (UNAUTHENTICATED) is decided by `jamsos.usecases.authentication`.
"""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from jamsos.domain.signatures import AGENCY_HEADER, SIGNATURE_HEADER, BadKey, public_key


def check_public_keys(agency: str, pems: Sequence[str]) -> None:
    """Raise BadKey (naming the agency) when one of its configured public keys is unusable."""
    for n, pem in enumerate(pems, 1):
        try:
            public_key(pem)
        except BadKey as error:
            raise BadKey(f"public key {n} of agency {agency}: {error}") from None


class Signer:
    """Signs what one agency publishes: the two headers of each message."""

    def __init__(self, agency: str, key: Ed25519PrivateKey) -> None:
        self.agency = agency
        self._key = key

    def headers(self, value: bytes) -> list[tuple[str, bytes]]:
        """`jamsos-agency` and `jamsos-signature` for the exact bytes `value`."""
        signature = base64.b64encode(self._key.sign(value))
        return [(AGENCY_HEADER, self.agency.encode("utf-8")), (SIGNATURE_HEADER, signature)]


def public_pem(key: Ed25519PrivateKey) -> str:
    """The PEM text (stripped) of the public half of `key`."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
        .strip()
    )


def belongs(key: Ed25519PrivateKey, pems: Sequence[str]) -> bool:
    """Whether the public half of `key` is one of the public keys `pems`."""
    mine = key.public_key().public_bytes_raw()
    for pem in pems:
        try:
            if public_key(pem).public_bytes_raw() == mine:
                return True
        except BadKey:
            continue
    return False


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key of a PKCS#8 PEM file that only its owner may read."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as error:
        raise BadKey(f"key file {path}: {error.strerror or error}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise BadKey(
            f"key file {path} is readable by others (mode {stat.S_IMODE(mode):04o}):"
            f" run `chmod 600 {path}`"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise BadKey(f"key file {path} is not an unencrypted PEM private key ({error})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BadKey(f"key file {path} is not an Ed25519 key ({type(key).__name__})")
    return key


def generate(agency: str, out: Path) -> tuple[Path, Path]:
    """Write `out/CODE.key` (PKCS#8 PEM, mode 0600) and `out/CODE.pub`; refuses to overwrite."""
    private, public = out / f"{agency}.key", out / f"{agency}.pub"
    for path in (private, public):
        if path.exists():
            raise BadKey(f"{path} exists: it is not overwritten (move it away first)")
    out.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.chmod(private, 0o600)  # whatever the umask
    public.write_text(public_pem(key) + "\n", "ascii")
    return private, public
