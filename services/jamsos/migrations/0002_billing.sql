-- Terminations (enrolment side) and billing: the coverage ledger built from participant
-- events, per-participant charges, invoices and their lines, and billing runs.

-- Every termination request that was processed, for audit: who asked, about whom, and what
-- it did. Any registered agency may end anyone's coverage (deaths and moves are facts any
-- OPD may learn of); a request about another agency's participant is kept here with both
-- agency codes, so `foreign` requests can be reviewed.
CREATE TABLE termination_requests (
    request_id              text PRIMARY KEY,
    agency_code             text NOT NULL,
    nik                     text NOT NULL,
    reason                  text NOT NULL,
    effective_date          date NOT NULL,
    status                  text NOT NULL CHECK (status IN ('TERMINATED', 'NOT_FOUND')),
    membership_no           text,
    participant_agency_code text,
    coverage_end            date,
    decided_at              timestamptz NOT NULL
);
CREATE INDEX termination_requests_foreign ON termination_requests (decided_at)
    WHERE participant_agency_code IS DISTINCT FROM agency_code AND status = 'TERMINATED';

-- The billing service's own record of coverage, one row per coverage period of a
-- membership, built only from participant.enrolled / participant.terminated events.
-- Events may arrive twice or out of order, so both sides merge by their own timestamp:
-- an enrolled event fills the enrolment columns if it is the latest enrolment seen, a
-- terminated event fills the termination columns if it is the latest termination seen.
-- A row is complete (billable) once an enrolled event has filled payer_code.
CREATE TABLE coverage (
    membership_no  text NOT NULL,
    coverage_start date NOT NULL,
    nik            text NOT NULL,
    agency_code    text,
    payer_code     text,
    funding_source text,
    enrolled_at    timestamptz,
    terminated_at  timestamptz,
    ended_on       date,
    -- The termination counts unless a later enrolment re-opened the same coverage period
    -- (terminated and re-enrolled before the period started).
    coverage_end   date GENERATED ALWAYS AS (
        CASE WHEN terminated_at IS NOT NULL
                  AND (enrolled_at IS NULL OR terminated_at >= enrolled_at)
             THEN ended_on END
    ) STORED,
    PRIMARY KEY (membership_no, coverage_start),
    CHECK ((payer_code IS NULL) = (enrolled_at IS NULL))
);

-- Billing run requests: the inbox of billing.run-requested (identity: request_id) and the
-- outcome `jamsos bill` waits for.
CREATE TABLE billing_runs (
    request_id   text PRIMARY KEY,
    content_hash text NOT NULL,
    period       text NOT NULL,
    requested_at timestamptz NOT NULL,
    processed_at timestamptz NOT NULL,
    outcome      text NOT NULL CHECK (outcome IN ('DONE', 'FAILED')),
    detail       text
);

CREATE TABLE invoices (
    invoice_no   text PRIMARY KEY,
    payer_code   text NOT NULL,
    period       text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    seq          integer NOT NULL CHECK (seq >= 1),
    kind         text NOT NULL CHECK (kind IN ('REGULAR', 'SUPPLEMENTARY', 'CREDIT')),
    request_id   text NOT NULL REFERENCES billing_runs (request_id),
    issued_at    timestamptz NOT NULL,
    -- Credit notes carry negative participants and amounts, so sums over a period are net.
    participants integer NOT NULL,
    jkk          bigint NOT NULL,
    jkm          bigint NOT NULL,
    amount       bigint NOT NULL CHECK (amount = jkk + jkm),
    status       text NOT NULL DEFAULT 'ISSUED' CHECK (status IN ('ISSUED', 'PAID')),
    paid_at      timestamptz,
    CHECK ((status = 'PAID') = (paid_at IS NOT NULL)),
    CHECK (((kind = 'CREDIT') = (amount < 0)) OR amount = 0),
    UNIQUE (payer_code, period, seq)
);
CREATE UNIQUE INDEX invoices_one_regular ON invoices (payer_code, period) WHERE kind = 'REGULAR';
CREATE INDEX invoices_period ON invoices (period);

CREATE TABLE invoice_lines (
    invoice_no     text NOT NULL REFERENCES invoices (invoice_no),
    agency_code    text NOT NULL,
    funding_source text NOT NULL,
    participants   integer NOT NULL,
    jkk            bigint NOT NULL,
    jkm            bigint NOT NULL,
    amount         bigint NOT NULL CHECK (amount = jkk + jkm),
    PRIMARY KEY (invoice_no, agency_code, funding_source)
);

-- One row per participant and period charged. A charge that is credited later keeps its row
-- and gets credit_invoice_no; at most one charge per (membership, period) is uncredited, so
-- no participant-month is ever charged twice, whatever is re-run, re-delivered or raced.
-- invoice_no is checked at commit: the invoice rows are written after their charges.
CREATE TABLE charges (
    charge_id         bigserial PRIMARY KEY,
    membership_no     text NOT NULL,
    period            text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    coverage_start    date NOT NULL,
    nik               text NOT NULL,
    agency_code       text NOT NULL,
    payer_code        text NOT NULL,
    funding_source    text NOT NULL,
    jkk               integer NOT NULL CHECK (jkk >= 0),
    jkm               integer NOT NULL CHECK (jkm >= 0),
    amount            integer NOT NULL CHECK (amount = jkk + jkm),
    accrued_at        timestamptz NOT NULL,
    invoice_no        text NOT NULL
        REFERENCES invoices (invoice_no) DEFERRABLE INITIALLY DEFERRED,
    credit_invoice_no text
        REFERENCES invoices (invoice_no) DEFERRABLE INITIALLY DEFERRED,
    credited_at       timestamptz,
    CHECK ((credit_invoice_no IS NULL) = (credited_at IS NULL))
);
CREATE UNIQUE INDEX charges_once ON charges (membership_no, period) WHERE credit_invoice_no IS NULL;
CREATE INDEX charges_period ON charges (period);
CREATE INDEX charges_invoice ON charges (invoice_no);
CREATE INDEX charges_credit_invoice ON charges (credit_invoice_no) WHERE credit_invoice_no IS NOT NULL;
