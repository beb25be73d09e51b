-- What a charge costs to write, per row, in a period's first run (issue 11: a 1,000,000-
-- participant month's first run, after 0015).
--
-- Measured on 1,000,000 charges of one period written into a period's new table (open, INSERT,
-- attach, rolled back; backend CPU from /proc/<pid>/stat and EXPLAIN (ANALYZE, BUFFERS, WAL),
-- embedded PostgreSQL 18.6, back to back, 2 December 2026, load 0.9-1.4):
--
-- 1. `charges_period_check` (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$') ran a regular expression for
--    every row written: ~0.45 s CPU per million (INSERT 2.83 -> 2.32-2.41 s without it). It is
--    implied since 0015: a charge's period is its partition's bound (there is no DEFAULT
--    partition, a charge of a period without one is refused), partitions are made by
--    `charges_open_period`, which refuses anything but YYYY-MM, and a partition made by it
--    keeps its `charges_YYYY_MM_bound` CHECK (period = 'YYYY-MM'), a plain comparison. (The
--    partitions 0015 made from existing charges hold only periods that passed the old check.)
-- 2. `charge_id`'s sequence handed out one value at a time: each `nextval` locked and read the
--    sequence's buffer (1,000,000 buffer hits) and every 32nd wrote a WAL record (30,303 in the
--    statement). With CACHE 1000 a session takes a block of 1000 and numbers from it in memory.
--    charge_id stays unique and increasing within a session; across sessions it is no longer
--    the order of writing, and a session that ends leaves the rest of its block unused (gaps).
--    Nothing relies on dense or globally ordered ids: there is no index on charge_id (0011),
--    nothing looks a charge up by it, the exports order by OPD, funding source and membership,
--    reconciliation sums; a participant's history orders a period's charges by their run's
--    accrual time first (adapters/participant_history.py).
-- 3. The BRIN index `charges_period` goes: a partition holds one period, so a look-up by period
--    is partition pruning (the payer list, the credit scan, reconciliation, the NOT EXISTS of
--    accrual: EXPLAIN shows only the period's partition scanned, the BRIN never), and ATTACH no
--    longer scans the new partition a fourth time to build it.
-- Each alone, open + INSERT + attach of 1,000,000 charges (backend CPU, 3 pairs): 2.92-3.00 s
-- as 0015 left it, 2.20-2.28 s with 1-3 (the INSERT 2.37-2.45 -> 1.73-1.88 s, ATTACH 0.43-0.46
-- -> 0.34-0.39 s), 2.02-2.12 s with the first run's lines summed from its new table instead of
-- RETURNING (adapters/accrual.py). `jamsos bench billing --participants 1000000`, first run:
-- 3.25-3.63 s -> 2.29-2.39 s (4 pairs back to back, load 0.4-1.9; README, billing).
-- Kept: the BRIN on invoice_no (the lines of a supplementary invoice or a credit note are a
-- few block ranges of their partition; without it the export and the credit look-up would
-- read every partition of every period) and the partial btree on credit_invoice_no.

ALTER TABLE charges DROP CONSTRAINT charges_period_check;
ALTER SEQUENCE charges_charge_id_seq CACHE 1000;
DROP INDEX charges_period;
