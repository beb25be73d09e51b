-- Registration and enrolment: submissions (the inbox), NIK claims (de-duplication),
-- participants, reference data, and the transactional outbox.

CREATE TABLE agencies (
    code           text PRIMARY KEY,
    name           text NOT NULL,
    sector         text NOT NULL,
    payer_code     text NOT NULL,
    funding_source text NOT NULL,
    quota          integer CHECK (quota >= 0)
);

-- Effective-dated premium tariff (RULES.md: JKK 10,000 + JKM 6,800 for BPU from 2025).
CREATE TABLE tariffs (
    effective_from date PRIMARY KEY,
    jkk            integer NOT NULL CHECK (jkk >= 0),
    jkm            integer NOT NULL CHECK (jkm >= 0)
);
INSERT INTO tariffs (effective_from, jkk, jkm) VALUES ('2025-01-01', 10000, 6800);

-- One row per readable submission, keyed by its contract identity. The row is the inbox:
-- a redelivery hits the primary key and changes nothing.
CREATE TABLE submissions (
    agency_code    text NOT NULL,
    submission_id  text NOT NULL,
    content_hash   text NOT NULL,
    nik            text,
    village_code   text,
    payload        jsonb NOT NULL,
    received_at    timestamptz NOT NULL,
    status         text NOT NULL CHECK (status IN ('RECEIVED', 'ENROLLED', 'DUPLICATE', 'REJECTED', 'REVIEW')),
    decided_at     timestamptz,
    reasons        jsonb,
    membership_no  text,
    existing_agency_code text,
    PRIMARY KEY (agency_code, submission_id)
);
CREATE INDEX submissions_received ON submissions (received_at) WHERE status = 'RECEIVED';
CREATE INDEX submissions_nik ON submissions (nik);

-- Who holds a NIK right now: a submission in flight or an active participant's enrolment.
-- The primary key is the de-duplication across agencies and consumer instances.
CREATE TABLE nik_claims (
    nik           text PRIMARY KEY,
    agency_code   text NOT NULL,
    submission_id text NOT NULL,
    claimed_at    timestamptz NOT NULL,
    FOREIGN KEY (agency_code, submission_id) REFERENCES submissions (agency_code, submission_id)
);

CREATE SEQUENCE membership_serial;

CREATE TABLE participants (
    nik                text PRIMARY KEY,
    membership_no      text NOT NULL UNIQUE,
    full_name          text NOT NULL,
    birth_date         date NOT NULL,
    sex                text NOT NULL,
    village_code       text NOT NULL,
    kecamatan_code     text NOT NULL,
    agency_code        text NOT NULL,
    submission_id      text NOT NULL,
    payer_code         text NOT NULL,
    funding_source     text NOT NULL,
    status             text NOT NULL CHECK (status IN ('ACTIVE', 'TERMINATED')),
    enrolled_at        timestamptz NOT NULL,
    coverage_start     date NOT NULL,
    coverage_end       date,
    termination_reason text,
    terminated_at      timestamptz,
    worker             jsonb NOT NULL
);
CREATE INDEX participants_active_agency ON participants (agency_code) WHERE status = 'ACTIVE';

-- Messages that could not be read or processed, kept whole (also published on jamsos.dlq.v1).
CREATE TABLE dead_letters (
    event_id     uuid PRIMARY KEY,
    source_topic text NOT NULL,
    partition    integer NOT NULL,
    "offset"     bigint NOT NULL,
    key          bytea,
    value        bytea NOT NULL,
    error        text NOT NULL,
    failed_at    timestamptz NOT NULL,
    replayed_at  timestamptz
);

-- Generic inbox for commands identified by their own id (termination requests, billing runs).
CREATE TABLE inbox (
    consumer     text NOT NULL,
    message_id   text NOT NULL,
    content_hash text NOT NULL,
    processed_at timestamptz NOT NULL,
    PRIMARY KEY (consumer, message_id)
);

-- Transactional outbox: rows are written in the same transaction as the change that caused
-- them and published by the relay, which marks them (it never follows an id cursor).
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    event_id     uuid NOT NULL UNIQUE,
    topic        text NOT NULL,
    key          bytea,
    value        bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
