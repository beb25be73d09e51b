-- Least privilege: one group role per service and two for people (README, "Database roles").
--   jamsos_registration  `jamsos run registration`
--   jamsos_verification  `jamsos run verification` (enrolment, reviews, terminations)
--   jamsos_billing       `jamsos run billing` (coverage ledger, billing runs, invoices)
--   jamsos_operator      the operator's CLI: review, bill, invoice pay, ops dlq, participant
--                        show, report, exports, reconcile (reads everything, writes little)
--   jamsos_monitor       dashboard, `jamsos report`, `jamsos ops health`: read-only on what
--                        the figures count (which includes submissions and participants);
--                        not nik_claims, inbox, termination_requests or dead letters' bytes
-- The roles are NOLOGIN: a deployment grants them to its login users (docker-compose.yml
-- does it with deploy/postgres-logins.sh). The owner (the user that runs `jamsos db
-- migrate`; it needs CREATEROLE the first time, unless a DBA created the roles beforehand)
-- keeps DDL, the agencies sync and every right not granted here. Roles belong to the whole cluster, so they
-- are created only when missing (a second jamsos database on the cluster reuses them).
--
-- A migration that adds a table decides each role's rights in the same file (none is a
-- decision too) and records it in tests/integration/test_service_roles.py, GRANTS: that
-- test fails for a table or sequence without a decision and for a grant that differs from it.
DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['jamsos_registration', 'jamsos_verification', 'jamsos_billing',
                                'jamsos_operator', 'jamsos_monitor']
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created meanwhile by a migration of another database on the cluster
            END;
        END IF;
    END LOOP;
END
$$;

GRANT USAGE ON SCHEMA public
    TO jamsos_registration, jamsos_verification, jamsos_billing, jamsos_operator, jamsos_monitor;

-- Every service: startup (migrations pending? agencies as configured?), its heartbeat row,
-- the outbox and its relay, dead letters (written, never read back), reference data.
GRANT SELECT ON schema_migrations, agencies, tariffs
    TO jamsos_registration, jamsos_verification, jamsos_billing;
GRANT SELECT, INSERT, UPDATE, DELETE ON service_processes
    TO jamsos_registration, jamsos_verification, jamsos_billing;
GRANT SELECT, INSERT, UPDATE ON outbox TO jamsos_registration, jamsos_verification, jamsos_billing;
GRANT USAGE ON SEQUENCE outbox_id_seq
    TO jamsos_registration, jamsos_verification, jamsos_billing;
-- (INSERT … ON CONFLICT (event_id) needs SELECT on event_id; the letters' bytes stay unread)
GRANT INSERT, SELECT (event_id) ON dead_letters
    TO jamsos_registration, jamsos_verification, jamsos_billing;

-- registration: the submissions inbox and the NIK claims it takes.
GRANT SELECT, INSERT, UPDATE ON submissions TO jamsos_registration;
GRANT SELECT, INSERT ON nik_claims TO jamsos_registration;

-- verification: decisions on submissions, participants, claims it releases, reviews and
-- terminations (the generic inbox holds review and termination request ids).
GRANT SELECT, UPDATE ON submissions TO jamsos_verification;
GRANT SELECT, DELETE ON nik_claims TO jamsos_verification;
GRANT SELECT, INSERT, UPDATE ON participants TO jamsos_verification;
GRANT USAGE ON SEQUENCE membership_serial TO jamsos_verification;
GRANT SELECT, INSERT ON termination_requests, inbox TO jamsos_verification;

-- billing: its own coverage ledger (and the counters its triggers keep), runs and invoices.
GRANT SELECT, INSERT, UPDATE ON coverage, charges, billed_periods, billing_runs
    TO jamsos_billing;
GRANT SELECT, UPDATE ON ledger_changes TO jamsos_billing;
GRANT USAGE ON SEQUENCE charges_charge_id_seq TO jamsos_billing;
GRANT SELECT, INSERT ON invoices, invoice_lines, inbox TO jamsos_billing;
GRANT SELECT ON payments TO jamsos_billing;

-- operator: reads every table (participant show, report, reconcile, exports, ops dlq);
-- writes payments (invoice pay) and the dead letters' replayed/discarded marks.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO jamsos_operator;
GRANT INSERT ON payments TO jamsos_operator;
GRANT USAGE ON SEQUENCE payments_payment_id_seq TO jamsos_operator;
GRANT UPDATE (status, paid_at) ON invoices TO jamsos_operator;
GRANT UPDATE (replayed_at, discarded_at, discard_reason) ON dead_letters TO jamsos_operator;

-- monitor: the figures of the dashboard and `jamsos report`, and the running processes.
GRANT SELECT ON agencies, submissions, participants, coverage, charges, invoices, invoice_lines,
    payments, billing_runs, outbox, service_processes, schema_migrations
    TO jamsos_monitor;
-- dead letters are counted, never read: not their key, value, headers or error
GRANT SELECT (event_id, source_topic, failed_at, replayed_at, discarded_at) ON dead_letters
    TO jamsos_monitor;
