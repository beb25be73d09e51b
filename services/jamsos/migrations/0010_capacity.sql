-- Places used against the regency's ceiling and each agency's quota, so that verification
-- instances decide enrolments at once without a global lock (README, "Capacity"). `used` is
-- the number of ACTIVE participants of the scope: enrolments (verification, review ENROL) add
-- to it and terminations take from it, in the transaction that changes the participants.
-- Scopes: 'regency' (the ceiling) and 'agency:' || agency_code (its quota); agency rows are
-- created with the agency (db.sync_agencies) or, failing that, by a batch deciding exactly.
-- Every transaction locks its rows regency first, then agencies in descending order
-- (adapters/capacity.py), so two never deadlock on them.
CREATE TABLE capacity (
    scope text PRIMARY KEY CHECK (scope = 'regency' OR scope LIKE 'agency:%'),
    used  integer NOT NULL CHECK (used >= 0)
);
INSERT INTO capacity (scope, used)
SELECT 'regency', count(*) FROM participants WHERE status = 'ACTIVE';
INSERT INTO capacity (scope, used)
SELECT 'agency:' || agency_code, count(*) FROM participants WHERE status = 'ACTIVE'
GROUP BY agency_code;
INSERT INTO capacity (scope, used)
SELECT 'agency:' || code, 0 FROM agencies ON CONFLICT (scope) DO NOTHING;

-- Roles (0008_service_roles.sql): verification keeps the counts (INSERT: an agency's row made
-- by a batch when the agencies sync did not); the operator reads every table; nobody else.
GRANT SELECT, INSERT, UPDATE ON capacity TO jamsos_verification;
GRANT SELECT ON capacity TO jamsos_operator;
