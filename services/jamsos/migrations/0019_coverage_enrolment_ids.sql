-- The billing ledger records an enrolment's identity in the coverage row it wrote (issue 11,
-- ledger intake of enrolled events).
--
-- Until now every enrolled event's id was claimed in `ledger_events` (0016) before its coverage
-- row was written: two inserts per event, a uuid btree and a text-keyed btree, each with the
-- speculative insertion of ON CONFLICT. Measured per event on 200,000 enrolments, 1,000 a
-- statement, embedded PostgreSQL 18.6 (3 December 2026, load ~1): claim 3.6-3.7 us, coverage
-- upsert 5.9-6.9 us (both with the driver's encoding); claim + upsert in one statement
-- 10.0-11.4 us, the same with the id kept in the coverage row 7.2-7.5 us.
--
-- `enrolled_event_id` is the event that wrote the row's enrolment side. Every enrolled event
-- the ledger applied is then in one of two places, which is what de-duplication reads
-- (adapters/coverage_ledger.py):
-- - the coverage row of its period, while it is that row's latest enrolment;
-- - `ledger_events`: an event that was not (an older or tied enrolment of a period, in one
--   batch or later), an event displaced by a later enrolment or whose row was deleted (the
--   triggers below move it there in the same statement), and every event applied before this
--   migration (their rows keep NULL here; nothing is rewritten, ADD COLUMN without a default
--   is instant).
-- An id can be in both (two instances applying one event at once in a rebalance; an old
-- process during the upgrade, below); that is a repeat counted new, never an effect doubled.
-- Terminations are claimed in `ledger_events` as before.
--
-- Rolling upgrade: a billing process of the old code, still running, claims every id in
-- `ledger_events` and writes coverage without this column. An id new code kept only in a row
-- is then counted new once more by it (its upsert finds the same `enrolled_at` and writes
-- nothing); a later enrolment it writes leaves the row's `enrolled_event_id` at the earlier
-- event (its SET list lacks the column, so the trigger does not fire) while the later one's id
-- is in `ledger_events`: both stay repeats for the new code, and a still later enrolment moves
-- the stale id to `ledger_events`. Counts may be off during the upgrade, effects are not.
ALTER TABLE coverage ADD COLUMN enrolled_event_id uuid;

-- A later enrolment overwrites a row's enrolment side: the earlier event's id moves to
-- `ledger_events`, so that a redelivery of it is still a repeat. Only such an overwrite fires
-- it (rare: a corrected enrolment of the same period), never an insert or a termination.
-- processed_at is the transaction's time, the overwrite's (the event's own time is gone with
-- the row's old version).
CREATE FUNCTION keep_displaced_enrolment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger_events (event_id, processed_at)
    VALUES (OLD.enrolled_event_id, now())
    ON CONFLICT (event_id) DO NOTHING;
    RETURN NEW;
END
$$;
CREATE TRIGGER coverage_enrolment_displaced BEFORE UPDATE OF enrolled_event_id ON coverage
    FOR EACH ROW
    WHEN (OLD.enrolled_event_id IS NOT NULL
          AND OLD.enrolled_event_id IS DISTINCT FROM NEW.enrolled_event_id)
    EXECUTE FUNCTION keep_displaced_enrolment();

-- A deleted row takes its enrolment's id with it: the id moves to `ledger_events` first, so a
-- redelivered enrolment does not bring back a coverage period an operator removed (its
-- termination, a repeat, would not come back with it). Nothing in jamsos deletes coverage; the
-- owner may (0011 counts deletions for re-runs). TRUNCATE fires no row or DELETE trigger, so
-- it has its own (a TRUNCATE of coverage and ledger_events together empties both).
CREATE FUNCTION keep_deleted_enrolments() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger_events (event_id, processed_at)
    SELECT enrolled_event_id, now() FROM gone WHERE enrolled_event_id IS NOT NULL
    ON CONFLICT (event_id) DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER coverage_enrolments_deleted AFTER DELETE ON coverage
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION keep_deleted_enrolments();

-- A DELETE first takes coverage in EXCLUSIVE mode (it waits for open ledger batches and holds
-- off new ones until it commits): otherwise a redelivery whose statement started before the
-- DELETE committed would not see the id moved to `ledger_events`, wait on the row, find it
-- gone and insert it again. TRUNCATE's own ACCESS EXCLUSIVE lock does the same for it. Only the
-- owner deletes coverage, by hand; the ledger's statements never wait on this otherwise.
CREATE FUNCTION lock_coverage_for_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE coverage IN EXCLUSIVE MODE;
    RETURN NULL;
END
$$;
CREATE TRIGGER coverage_delete_locks BEFORE DELETE ON coverage
    FOR EACH STATEMENT EXECUTE FUNCTION lock_coverage_for_delete();

CREATE FUNCTION keep_truncated_enrolments() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger_events (event_id, processed_at)
    SELECT enrolled_event_id, now() FROM coverage WHERE enrolled_event_id IS NOT NULL
    ON CONFLICT (event_id) DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER coverage_enrolments_truncated BEFORE TRUNCATE ON coverage
    FOR EACH STATEMENT EXECUTE FUNCTION keep_truncated_enrolments();
