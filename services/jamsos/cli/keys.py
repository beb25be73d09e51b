"""`jamsos keys generate`: an agency's Ed25519 key pair (CONTRACT.md, "Agency signatures (v1)")."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from jamsos.cli.common import app, console
from jamsos.cli.errors import Failure
from jamsos.settings import Settings

if TYPE_CHECKING:
    from jamsos.adapters.signatures import Signer

keys_app = typer.Typer(no_args_is_help=True, help="Agency signing keys (Ed25519).")
app.add_typer(keys_app, name="keys")


@keys_app.command("generate")
def keys_generate(
    agency: str = typer.Option(..., "--agency", help="agency (OPD) code"),
    out: Path = typer.Option(..., "--out", file_okay=False, help="directory for the two files"),
) -> None:
    """Write `OUT/CODE.key` (private, PKCS#8 PEM, mode 0600: stays with the agency) and
    `OUT/CODE.pub` (goes into jamsos's JAMSOS_AGENCY_KEYS_DIR or the config file)."""
    from jamsos.adapters.signatures import generate
    from jamsos.domain.signatures import BadKey

    code = agency.strip().upper()
    if not code or "." in code or "/" in code:
        raise Failure(f"--agency {agency!r} is not an agency code")
    try:
        private, public = generate(code, out)
    except (BadKey, OSError) as error:
        raise Failure(str(error)) from None
    console.print(f"private key (keep it secret): {private}", highlight=False)
    console.print(f"public key (give it to jamsos): {public}", highlight=False)


def signer(settings: Settings, agency: str, key_file: Path | None) -> Signer | None:
    """The signer of `--key` for `agency`, or None without `--key`. A key file that cannot be
    used, or whose public key is not one of the agency's configured keys, ends the command."""
    if key_file is None:
        return None
    from jamsos.adapters.signatures import Signer, belongs, load_private_key
    from jamsos.domain.signatures import BadKey

    try:
        key = load_private_key(key_file)
    except BadKey as error:
        raise Failure(str(error)) from None
    registered = settings.policy.agency(agency)
    known = registered.public_keys if registered else ()
    if known and not belongs(key, known):
        raise Failure(
            f"{key_file} is not a key of {agency}: its public key is none of the {len(known)}"
            f" configured for {agency} (what it signs would be UNAUTHENTICATED)"
        )
    return Signer(agency, key)
