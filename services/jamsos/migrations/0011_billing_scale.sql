-- Billing at a million participants (issue 11). Measured on 1,000,000 charges of one period
-- (2 cores): every btree and row trigger on `charges` is paid per charged participant.
--
-- 1. Foreign keys from charges to invoices go: as deferred row triggers they queued one check
--    per charge and ran 1,000,000 look-ups at commit (~3.5 s; the credit_invoice_no key queued
--    one event per row even while NULL, ~0.4 s). A billing run writes the charges and their
--    invoices in one transaction from the same numbers, and reconciliation (check_invoices:
--    each line = Σ its charges) reports any charge whose invoice or line is missing.
-- 2. The charge_id primary key index goes (~0.5 s and 80 MB of WAL per million): nothing looks
--    a charge up by id; charge_id stays the row's number from its sequence. The uniqueness
--    that matters, one uncredited charge per membership and period, stays (charges_once).
-- 3. Period and invoice look-ups use BRIN instead of btree: charges are appended a run at a
--    time, so one period's or invoice's rows sit in a few block ranges (nearly free to keep).
ALTER TABLE charges
    DROP CONSTRAINT charges_invoice_no_fkey,
    DROP CONSTRAINT charges_credit_invoice_no_fkey,
    DROP CONSTRAINT charges_pkey;
DROP INDEX charges_period;
DROP INDEX charges_invoice;
CREATE INDEX charges_period ON charges USING brin (period) WITH (autosummarize = on);
CREATE INDEX charges_invoice ON charges USING brin (invoice_no) WITH (autosummarize = on);

-- 4. A re-run after a few changes looks only at the memberships written since the period's
--    last run: the coverage rows whose xmin (the transaction that last inserted or updated
--    the row, set by PostgreSQL itself, triggers or not) is not older than that run's
--    horizon, the oldest transaction still running when it started. Everything older was
--    committed before it and seen by it. The horizon is a 64-bit transaction id
--    (txid_snapshot_xmin); NULL means the next run looks at every membership.
ALTER TABLE billed_periods ADD COLUMN horizon bigint;

-- A deleted coverage row leaves no row to look at, so deletions are remembered by the latest
-- deleting transaction: a run whose previous horizon is not after it looks at everything.
CREATE TABLE coverage_deletions (
    one      boolean PRIMARY KEY DEFAULT true CHECK (one),
    last_xid bigint NOT NULL
);
INSERT INTO coverage_deletions (last_xid) VALUES (0);

CREATE FUNCTION note_coverage_deletion() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE coverage_deletions SET last_xid = greatest(last_xid, txid_current());
    RETURN NULL;
END
$$;
CREATE TRIGGER coverage_deleted AFTER DELETE OR TRUNCATE ON coverage
    FOR EACH STATEMENT EXECUTE FUNCTION note_coverage_deletion();

-- Rights (0008's pattern): the billing service reads the deletion mark when it decides what a
-- re-run looks at; nobody but the owner deletes coverage, so only the owner's trigger writes
-- it. The operator reads every table, this one too.
GRANT SELECT ON coverage_deletions TO jamsos_billing, jamsos_operator;
