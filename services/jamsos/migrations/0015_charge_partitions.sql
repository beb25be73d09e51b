-- Charges in one partition per period (issue 11: a 1,000,000-participant month's first run).
--
-- Measured on 1,000,000 charges of one period (EXPLAIN (ANALYZE, BUFFERS, WAL) and backend CPU
-- from /proc/<pid>/stat, PostgreSQL 18.6 and 15, 2 December 2026): inserting them into a table
-- that has its indexes costs 4.0–4.6 s of CPU and 2.0M WAL records (a heap record and a
-- `charges_once` btree record per charge, plus the two BRIN indexes); inserting them into a
-- table without indexes and building the indexes after costs 3.0–3.7 s (the unique btree built
-- by one sort: 0.25–0.4 s and 38 MB of WAL instead of 1,000,000 insertions). The whole first
-- run (run_billing on 1,000,000 coverage rows, embedded PostgreSQL 18.6, CPU of all its
-- processes, back to back, load 2.2–2.4): 2,049,241 WAL records / 284 MB / 3.70–3.77 s CPU /
-- 3.89–4.23 s wall before, 1,045,487 records / 236 MB / 3.30–3.47 s CPU / 3.61–3.90 s after.
-- Measured and not taken: an UNLOGGED table made LOGGED before ATTACH (SET LOGGED rewrites the
-- table with one WAL record per row again: 4.0 s CPU).
--
-- So a period's first run (no partition for it yet) writes its charges into a new table of the
-- same shape with no index, then attaches it as the period's partition: ATTACH builds the
-- partition's indexes, `charges_once` among them, and refuses the table if two uncredited
-- charges share a membership. Later runs of the period write through `charges`, with the
-- indexes in place. The guarantee is unchanged and still the database's: one uncredited charge
-- per (membership, period) at every commit, because
--   * a partition holds one period (its bound) and every attached partition has the unique
--     index (a partitioned unique index cannot be missing on a partition);
--   * a table opened for a period must be attached before its transaction commits: opening
--     records the period in `charge_partitions_open`, attaching deletes it, and a deferred
--     constraint trigger fails the commit if the row is still there;
--   * only `charges_open_period` / `charges_attach_period` (SECURITY DEFINER, owner's rights)
--     create and attach partitions; the services cannot create tables (migration 0008). Runs of
--     one period are serialised by their advisory lock; two transactions opening one period
--     would collide on the table's name and on `charge_partitions_open`'s key.
-- There is no DEFAULT partition: a charge of a period without a partition is refused, so no
-- period's charges can hide where a later ATTACH would have to scan for them.
--
-- Existing charges move into their periods' partitions unchanged (every column, charge_id
-- included; the sequence continues).

-- no charge may commit to the old table between the copy and the DROP (a running billing run)
LOCK TABLE charges IN EXCLUSIVE MODE;

-- (the CHECK constraints named as PostgreSQL named them on the old table)
CREATE TABLE charges_partitioned (
    charge_id         bigint NOT NULL DEFAULT nextval('charges_charge_id_seq'),
    membership_no     text NOT NULL,
    period            text NOT NULL
        CONSTRAINT charges_period_check CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    coverage_start    date NOT NULL,
    nik               text NOT NULL,
    agency_code       text NOT NULL,
    payer_code        text NOT NULL,
    funding_source    text NOT NULL,
    jkk               integer NOT NULL CONSTRAINT charges_jkk_check CHECK (jkk >= 0),
    jkm               integer NOT NULL CONSTRAINT charges_jkm_check CHECK (jkm >= 0),
    amount            integer NOT NULL CONSTRAINT charges_check CHECK (amount = jkk + jkm),
    accrued_at        timestamptz NOT NULL,
    invoice_no        text NOT NULL,
    credit_invoice_no text,
    credited_at       timestamptz,
    CONSTRAINT charges_check1 CHECK ((credit_invoice_no IS NULL) = (credited_at IS NULL))
) PARTITION BY LIST (period);

-- one partition per period already charged, filled with its charges as they are
DO $$
DECLARE
    p text;
BEGIN
    FOR p IN SELECT DISTINCT period FROM charges ORDER BY period LOOP
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF charges_partitioned FOR VALUES IN (%L)',
            'charges_' || replace(p, '-', '_'), p);
    END LOOP;
END
$$;
INSERT INTO charges_partitioned SELECT charge_id, membership_no, period, coverage_start, nik,
    agency_code, payer_code, funding_source, jkk, jkm, amount, accrued_at, invoice_no,
    credit_invoice_no, credited_at
FROM charges ORDER BY charge_id;

ALTER SEQUENCE charges_charge_id_seq OWNED BY charges_partitioned.charge_id;
DROP TABLE charges;
ALTER TABLE charges_partitioned RENAME TO charges;

-- the indexes of 0002/0011, now partitioned (one per partition, built here by sorting)
CREATE UNIQUE INDEX charges_once ON charges (membership_no, period) WHERE credit_invoice_no IS NULL;
CREATE INDEX charges_period ON charges USING brin (period) WITH (autosummarize = on);
CREATE INDEX charges_invoice ON charges USING brin (invoice_no) WITH (autosummarize = on);
CREATE INDEX charges_credit_invoice ON charges (credit_invoice_no)
    WHERE credit_invoice_no IS NOT NULL;

-- 0007's change counter: a statement on `charges` fires the parent's trigger; one written to
-- a partition directly (the first run's insert, or the owner's hand) fires the partition's.
CREATE TRIGGER charges_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON charges
    FOR EACH STATEMENT EXECUTE FUNCTION count_ledger_change('charges');
DO $$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'charges'::regclass
    LOOP
        EXECUTE format('CREATE TRIGGER charges_changed AFTER INSERT OR UPDATE OR DELETE OR'
                       ' TRUNCATE ON %s FOR EACH STATEMENT'
                       ' EXECUTE FUNCTION count_ledger_change(''charges'')', part);
    END LOOP;
END
$$;

-- 0008's rights on charges, as they were (partitions are reached through `charges` only)
GRANT SELECT, INSERT, UPDATE ON charges TO jamsos_billing;
GRANT SELECT ON charges TO jamsos_operator, jamsos_monitor;

-- A period whose partition was opened in the running transaction and is not attached yet.
CREATE TABLE charge_partitions_open (
    period text PRIMARY KEY
);
-- only the owner's functions below write it; the operator reads every table (0008)
GRANT SELECT ON charge_partitions_open TO jamsos_operator;

-- (SECURITY DEFINER: it runs at the commit of the billing role, which may not read the table)
CREATE FUNCTION charge_partition_left_open() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM charge_partitions_open WHERE period = NEW.period) THEN
        RAISE EXCEPTION 'the charges of % were written to a table that is not attached', NEW.period
            USING HINT = 'charges_attach_period must run before the transaction commits';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER charge_partition_attached AFTER INSERT ON charge_partitions_open
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION charge_partition_left_open();

-- The table for period `p`'s charges when `p` has no partition yet (NULL: it has one; write to
-- `charges`). The caller fills it and calls charges_attach_period(p) in the same transaction.
CREATE FUNCTION charges_open_period(p text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    name text;
BEGIN
    IF p IS NULL OR p !~ '^[0-9]{4}-(0[1-9]|1[0-2])$' THEN
        RAISE EXCEPTION 'not a period: %', p;
    END IF;
    name := 'charges_' || replace(p, '-', '_');
    IF EXISTS (SELECT 1 FROM pg_inherits
               WHERE inhparent = 'charges'::regclass AND inhrelid = to_regclass(name)) THEN
        RETURN NULL;
    END IF;
    INSERT INTO charge_partitions_open (period) VALUES (p);
    EXECUTE format('CREATE TABLE %I (LIKE charges INCLUDING DEFAULTS INCLUDING CONSTRAINTS,'
                   ' CONSTRAINT %I CHECK (period = %L))', name, name || '_bound', p);
    EXECUTE format('CREATE TRIGGER charges_changed AFTER INSERT OR UPDATE OR DELETE OR'
                   ' TRUNCATE ON %I FOR EACH STATEMENT'
                   ' EXECUTE FUNCTION count_ledger_change(''charges'')', name);
    EXECUTE format('GRANT SELECT, INSERT ON %I TO jamsos_billing', name);
    RETURN name;
END
$$;

-- Attach the table charges_open_period(p) opened as `p`'s partition: its indexes are built
-- now (a duplicate uncredited charge fails here); its CHECK (period = p) spares ATTACH a scan.
CREATE FUNCTION charges_attach_period(p text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    name text := 'charges_' || replace(p, '-', '_');
BEGIN
    DELETE FROM charge_partitions_open WHERE period = p;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no table of % is open', p;
    END IF;
    EXECUTE format('REVOKE ALL ON %I FROM jamsos_billing', name);
    EXECUTE format('ALTER TABLE charges ATTACH PARTITION %I FOR VALUES IN (%L)', name, p);
END
$$;

REVOKE ALL ON FUNCTION charges_open_period(text), charges_attach_period(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION charges_open_period(text), charges_attach_period(text)
    TO jamsos_billing;
