"""Billing events: run requests and issued invoices (CONTRACT.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from jamsos_schemas.registration import EventId

Period = Annotated[
    str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM", examples=["2025-02"])
]


class BillingRunRequestedV1(BaseModel):
    """`jamsos.billing.run-requested.v1`: accrue premiums for one period (key: period)."""

    model_config = ConfigDict(frozen=True)

    request_id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            description="identity of the request; re-delivery changes nothing",
            examples=["bill-2025-02-a"],
        ),
    ]
    period: Period
    requested_at: Annotated[AwareDatetime, Field(examples=["2025-01-31T08:00:00+07:00"])]


class InvoiceLine(BaseModel):
    """Charges of one agency and funding source on an invoice."""

    model_config = ConfigDict(frozen=True)

    agency_code: Annotated[str, Field(description="proposing agency (OPD)", examples=["DISDAG"])]
    funding_source: Annotated[
        str, Field(description="budget line: APBD or DBHCHT", examples=["APBD"])
    ]
    participants: Annotated[
        int, Field(description="participant-months (negative on a credit note)", examples=[1200])
    ]
    jkk: Annotated[int, Field(description="JKK premiums, Rupiah", examples=[12000000])]
    jkm: Annotated[int, Field(description="JKM premiums, Rupiah", examples=[8160000])]
    amount: Annotated[int, Field(description="jkk + jkm, Rupiah", examples=[20160000])]


class InvoiceTotals(BaseModel):
    """Sums over an invoice's lines."""

    model_config = ConfigDict(frozen=True)

    participants: Annotated[int, Field(description="sum of the lines", examples=[26000])]
    jkk: Annotated[int, Field(description="Rupiah", examples=[260000000])]
    jkm: Annotated[int, Field(description="Rupiah", examples=[176800000])]
    amount: Annotated[int, Field(description="Rupiah", examples=[436800000])]


class InvoiceIssuedV1(BaseModel):
    """`jamsos.billing.invoice-issued.v1`: an invoice or credit note (key: invoice number)."""

    model_config = ConfigDict(frozen=True)

    event_id: EventId
    invoice_no: Annotated[
        str,
        Field(description="JMS-{payer}-{YYYYMM}-{seq:02}", examples=["JMS-PEMKAB-KUDUS-202502-01"]),
    ]
    kind: Annotated[
        Literal["REGULAR", "SUPPLEMENTARY", "CREDIT"],
        Field(
            description="first invoice, a later difference, or a credit note", examples=["REGULAR"]
        ),
    ]
    payer_code: Annotated[str, Field(examples=["PEMKAB-KUDUS"])]
    period: Period
    issued_at: Annotated[AwareDatetime, Field(examples=["2025-02-01T08:00:00+07:00"])]
    currency: Literal["IDR"] = "IDR"
    lines: list[InvoiceLine]
    totals: InvoiceTotals
