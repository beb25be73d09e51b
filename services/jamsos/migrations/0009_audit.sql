-- Who decided what (README, "Audit"): review decisions, payments, dead-letter replays and
-- discards, each written in the transaction of the change it records. Append-only: no role
-- may update or delete a row (only the owner could).
--   actor    review: the decision's `decided_by` (`jamsos review decide --by`); CLI commands:
--            JAMSOS_ACTOR, else the operating-system user running the command
--   action   review.enrol | review.duplicate | invoice.pay | dlq.replay | dlq.discard
--   subject  AGENCY/SUBMISSION_ID, the invoice number, or the dead letter's event_id
--   reason   the discard's --reason, the payment's reference; empty where none is asked for
--   detail   what else the action carried (amount, decided_at, source topic ...)
CREATE TABLE audit_log (
    audit_id bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    actor    text NOT NULL CHECK (actor <> ''),
    action   text NOT NULL
        CHECK (action IN ('review.enrol', 'review.duplicate', 'invoice.pay', 'dlq.replay',
                          'dlq.discard')),
    subject  text NOT NULL,
    reason   text,
    detail   jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_subject ON audit_log (subject);

-- verification applies review decisions; the operator pays, replays and discards (and reads
-- the log: `jamsos ops audit`). Nobody else, and the monitor not: actors are people.
GRANT INSERT ON audit_log TO jamsos_verification;
GRANT SELECT, INSERT ON audit_log TO jamsos_operator;
GRANT USAGE ON SEQUENCE audit_log_audit_id_seq TO jamsos_verification, jamsos_operator;
