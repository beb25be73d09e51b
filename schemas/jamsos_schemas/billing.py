"""Billing events: run requests and issued invoices (CONTRACT.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from jamsos_schemas.registration import EventId, Rupiah

Period = Annotated[
    str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM", examples=["2025-02"])
]


class BillingRunRequestedV1(BaseModel):
    """`jamsos.billing.run-requested.v1`: accrue premiums for one period (key: period)."""

    model_config = ConfigDict(frozen=True)

    request_id: Annotated[str, Field(min_length=1, max_length=64, examples=["bill-2025-02-a"])]
    period: Period
    requested_at: AwareDatetime


class InvoiceLine(BaseModel):
    """Charges of one agency and funding source on an invoice."""

    model_config = ConfigDict(frozen=True)

    agency_code: str
    funding_source: str
    participants: int
    jkk: Rupiah
    jkm: Rupiah
    amount: Rupiah


class InvoiceTotals(BaseModel):
    """Sums over an invoice's lines."""

    model_config = ConfigDict(frozen=True)

    participants: int
    jkk: Rupiah
    jkm: Rupiah
    amount: Rupiah


class InvoiceIssuedV1(BaseModel):
    """`jamsos.billing.invoice-issued.v1`: an invoice or credit note (key: invoice number)."""

    model_config = ConfigDict(frozen=True)

    event_id: EventId
    invoice_no: Annotated[str, Field(examples=["JMS-PEMKAB-KUDUS-202502-01"])]
    kind: Literal["REGULAR", "SUPPLEMENTARY", "CREDIT"]
    payer_code: Annotated[str, Field(examples=["PEMKAB-KUDUS"])]
    period: Period
    issued_at: AwareDatetime
    currency: Literal["IDR"] = "IDR"
    lines: list[InvoiceLine]
    totals: InvoiceTotals
