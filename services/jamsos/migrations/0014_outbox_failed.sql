-- An outbox row the broker refuses for good (record too large for the topic or the producer,
-- a missing ACL, an invalid record or topic) is marked failed with the broker's error instead
-- of being retried forever: it no longer blocks the rows after it, nor counts as pending.
-- `jamsos ops outbox retry` clears the mark after the cause is fixed (README, "Reliability").
ALTER TABLE outbox
    ADD COLUMN failed_at timestamptz,
    ADD COLUMN failure   text;

-- The sweeper's and the pending gauge's index: neither published nor failed.
DROP INDEX outbox_unpublished;
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_failed ON outbox (id) WHERE failed_at IS NOT NULL;

-- Grants: no new table or sequence. The services already hold UPDATE on outbox (0008) and
-- mark failures with it; the operator (SELECT) may clear a failure to retry the row.
GRANT UPDATE (failed_at, failure) ON outbox TO jamsos_operator;

-- The retry is audited like a DLQ replay (the operator already inserts into audit_log).
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('review.enrol', 'review.duplicate', 'invoice.pay', 'dlq.replay',
                      'dlq.discard', 'outbox.retry'));
