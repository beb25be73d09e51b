-- A period's first run (issue 11): the new table that charges_open_period makes gets the
-- partial index of credit notes (`charges_credit_invoice`, credit_invoice_no WHERE NOT NULL)
-- while it is still empty. A first run credits nothing, so the index stays empty as the
-- table fills (its predicate is false for every row), and ATTACH adopts it as the partition's
-- index instead of scanning the million new rows to build it: ~95 ms of ATTACH's ~650 ms
-- for 1,000,000 charges (PostgreSQL 15, 4 December). The index has the name ATTACH gives a
-- partition's index itself (<table>_credit_invoice_no_idx). The other indexes are still built
-- by ATTACH, by sorting: the unique `charges_once` is cheaper sorted than inserted row by
-- row, and a BRIN made empty would leave the new ranges unsummarised.
CREATE OR REPLACE FUNCTION charges_open_period(p text) RETURNS text
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
    EXECUTE format('CREATE INDEX %I ON %I (credit_invoice_no)'
                   ' WHERE credit_invoice_no IS NOT NULL', name || '_credit_invoice_no_idx', name);
    EXECUTE format('CREATE TRIGGER charges_changed AFTER INSERT OR UPDATE OR DELETE OR'
                   ' TRUNCATE ON %I FOR EACH STATEMENT'
                   ' EXECUTE FUNCTION count_ledger_change(''charges'')', name);
    EXECUTE format('GRANT SELECT, INSERT ON %I TO jamsos_billing', name);
    RETURN name;
END
$$;
