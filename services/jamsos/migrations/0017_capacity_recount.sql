-- `jamsos ops capacity recount` (README, "Capacity"): sets every `capacity` counter (0010) back
-- to the number of ACTIVE participants of its scope after it drifted (a bug, a manual edit, a
-- restore), and creates the row of an agency with active participants that has none.
--
-- Rights. The operator reads capacity (0010) but may not write it, and gets no UPDATE here:
-- with it, a login could set any number and refuse workers or pass a quota, the very harm the
-- recount repairs. It may only EXECUTE this function, which runs as its owner (SECURITY
-- DEFINER, search_path pinned) and can only set a counter to the truth. Nobody else may.
--
-- Why it cannot deadlock with verification, nor lose a concurrent enrolment or termination:
--  * missing rows are inserted first, in ascending scope order, before any row is locked (as
--    adapters/capacity._ensure does; an insert waits only for a concurrent insert of the same
--    row, whose transaction holds no capacity row yet or locks only rows it can see);
--  * then every row is locked regency first, then agencies in descending order (the order of
--    adapters/capacity.py), so lock waits never form a cycle; no participant row is locked;
--  * only then are the participants counted, by a new statement (READ COMMITTED: a snapshot
--    taken after the locks were granted). Every transaction that changes who is ACTIVE changes
--    the counters in the same transaction, under these row locks: one that committed before
--    is in the count and in the counter; one that has not reached its capacity step yet is in
--    neither, and adds its delta to the recounted value after this commits.
CREATE FUNCTION capacity_recount()
RETURNS TABLE (scope text, used_before integer, used_after integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    created text[];
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'capacity_recount() needs READ COMMITTED (it counts after locking)';
    END IF;
    WITH missing AS (
        INSERT INTO capacity AS c (scope, used)
        SELECT s, 0 FROM (
            SELECT 'regency' AS s
            UNION SELECT 'agency:' || p.agency_code FROM participants p WHERE p.status = 'ACTIVE'
        ) wanted
        ORDER BY s COLLATE "C"
        ON CONFLICT ON CONSTRAINT capacity_pkey DO NOTHING
        RETURNING c.scope
    )
    SELECT coalesce(array_agg(m.scope), '{}') INTO created FROM missing m;

    PERFORM 1 FROM capacity c ORDER BY c.scope COLLATE "C" DESC FOR UPDATE;

    RETURN QUERY
    WITH active AS (  -- one scan; the empty grouping set (the regency) gives a row always
        SELECT CASE WHEN grouping(p.agency_code) = 1 THEN 'regency'
                    ELSE 'agency:' || p.agency_code END AS s,
               count(*)::int AS n
        FROM participants p WHERE p.status = 'ACTIVE' GROUP BY ROLLUP (p.agency_code)
    ), counters AS (
        SELECT c.scope AS s, c.used, coalesce(a.n, 0) AS n
        FROM capacity c LEFT JOIN active a ON a.s = c.scope
    ), changed AS (
        UPDATE capacity c SET used = k.n FROM counters k
        WHERE c.scope = k.s AND (c.used <> k.n OR c.scope = ANY (created))
        RETURNING c.scope AS s, c.used AS after
    )
    SELECT ch.s, CASE WHEN ch.s = ANY (created) THEN NULL ELSE k.used END, ch.after
    FROM changed ch JOIN counters k ON k.s = ch.s
    ORDER BY ch.s COLLATE "C" DESC;
END
$$;

REVOKE ALL ON FUNCTION capacity_recount() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION capacity_recount() TO jamsos_operator;

-- The recount is audited like an outbox retry (the operator already inserts into audit_log).
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('review.enrol', 'review.duplicate', 'invoice.pay', 'dlq.replay',
                      'dlq.discard', 'outbox.retry', 'capacity.recount'));
