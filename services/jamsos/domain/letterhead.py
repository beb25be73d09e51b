"""Who issues an invoice document, to whom it is addressed, where it is paid and who signs it.

Values come from `data/defaults.yaml` (`documents:`) and the config file (see settings.py); the
invoice PDF prints them. An Indonesian finance office files a document only with a letterhead
(kop surat), an addressee, payment instructions and a signatory with NIP.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PaymentMethod(StrEnum):
    """How the payer transfers the premium."""

    BANK_ACCOUNT = "BANK_ACCOUNT"  # transfer to a bank account (rekening)
    VIRTUAL_ACCOUNT = "VIRTUAL_ACCOUNT"  # BPJS Ketenagakerjaan's virtual account for the payer


@dataclass(frozen=True)
class Issuer:
    """The letterhead: the regency government and the agency that prepares the document."""

    regency: str
    agency: str
    address: str
    city: str


@dataclass(frozen=True)
class Addressee:
    """The BPJS Ketenagakerjaan branch the document is addressed to."""

    name: str
    address: str


@dataclass(frozen=True)
class PaymentAccount:
    """Where the premium is paid."""

    method: PaymentMethod
    bank: str
    account_no: str
    account_name: str


@dataclass(frozen=True)
class Signatory:
    """The official who signs: name, title (jabatan) and NIP."""

    name: str
    title: str
    nip: str


@dataclass(frozen=True)
class Letterhead:
    """Everything an invoice document prints besides the invoice itself."""

    issuer: Issuer
    addressee: Addressee
    payment: PaymentAccount
    signatory: Signatory
