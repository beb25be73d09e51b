-- Change counters of the billing ledger, so that re-running an unchanged period costs two
-- reads instead of a scan of every coverage row and charge (adapters/accrual.py).
-- Every statement that writes `coverage` or `charges` adds 1 to its source's counter, in the
-- writer's transaction; writers are spread over 8 slots (by backend pid) so that concurrent
-- ledger batches do not queue on one row. A counter's value is the sum of its slots: it only
-- grows, so an equal sum means no write committed in between.
CREATE TABLE ledger_changes (
    source  text NOT NULL CHECK (source IN ('coverage', 'charges')),
    slot    int NOT NULL,
    changes bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (source, slot)
);
INSERT INTO ledger_changes (source, slot)
SELECT s, n FROM unnest(ARRAY['coverage', 'charges']) AS s, generate_series(0, 7) AS n;

CREATE FUNCTION count_ledger_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ledger_changes SET changes = changes + 1
    WHERE source = TG_ARGV[0] AND slot = pg_backend_pid() % 8;
    RETURN NULL;
END
$$;
CREATE TRIGGER coverage_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON coverage
    FOR EACH STATEMENT EXECUTE FUNCTION count_ledger_change('coverage');
CREATE TRIGGER charges_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON charges
    FOR EACH STATEMENT EXECUTE FUNCTION count_ledger_change('charges');

-- Per period, the counters its last completed billing run left: coverage as the run started
-- (it saw at least that), charges as it committed (its own writes included).
CREATE TABLE billed_periods (
    period           text PRIMARY KEY,
    coverage_changes bigint NOT NULL,
    charges_changes  bigint NOT NULL
);
