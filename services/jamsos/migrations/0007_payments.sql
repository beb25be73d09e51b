-- Payments against invoices (`jamsos invoice pay`): each with its amount, the payer's
-- reference and the day it was paid (Asia/Jakarta). An invoice is PAID once its payments reach
-- its amount; a payment that leaves a balance is recorded as partial. The same reference is
-- recorded once per invoice, so a re-run of the same command pays nothing twice.
CREATE TABLE payments (
    payment_id  bigserial PRIMARY KEY,
    invoice_no  text NOT NULL REFERENCES invoices (invoice_no),
    amount      bigint NOT NULL CHECK (amount > 0),
    reference   text NOT NULL CHECK (reference <> ''),
    paid_on     date NOT NULL,
    partial     boolean NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (invoice_no, reference)
);
-- invoices paid before payments were itemised: one full payment each
INSERT INTO payments (invoice_no, amount, reference, paid_on, partial, recorded_at)
SELECT invoice_no, amount, 'before 0007_payments', (paid_at AT TIME ZONE 'Asia/Jakarta')::date,
       false, paid_at
FROM invoices WHERE status = 'PAID' AND amount > 0;
