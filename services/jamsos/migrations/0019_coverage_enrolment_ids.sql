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
-- the ledger applied is then in exactly one of two places, which is what de-duplication reads
-- (adapters/coverage_ledger.py):
-- - the coverage row of its period, while it is that row's latest enrolment;
-- - `ledger_events`: an event that was not (an older or tied enrolment of a period, in one
--   batch or later), an event displaced by a later enrolment (the trigger below moves it there
--   in the same statement), and every event applied before this migration (their rows keep
--   NULL here; nothing is rewritten, ADD COLUMN without a default is instant).
-- Terminations are claimed in `ledger_events` as before.
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
