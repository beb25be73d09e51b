-- Look-alike groups held by the verification batch deciding them (usecases/verification.py).
--
-- A worker is held for review when an active participant of the same birth date, sex and
-- village has a name at least 90% alike (domain/dedup.py). Two verification instances that
-- decide such a pair at the same moment, from different partitions, each read the other's
-- worker before it was committed, and both enrolled it: the same person twice under two NIKs
-- (a mistyped digit), charged twice. NIKs are claimed (nik_claims); look-alikes, which are a
-- similarity, cannot be claimed by key. So each batch takes a row lock on every group it
-- compares, in key order, before it reads the group's participants: a batch deciding a
-- worker of a group another batch holds waits for that commit, and then sees its enrolments.
-- One row per group ever decided (~800,000 for a province of a million workers); locking an
-- existing row writes no new version, only its lock (ON CONFLICT DO UPDATE … WHERE false locks
-- it and updates nothing): ~13 ms a batch of 2,000 at 825,000 groups (PostgreSQL 15). Batches of disjoint groups never wait for each other: no global lock.
CREATE TABLE lookalike_groups (
    birth_date   date NOT NULL,
    sex          text NOT NULL,
    village_code text NOT NULL,
    PRIMARY KEY (birth_date, sex, village_code)
);
GRANT SELECT, INSERT, UPDATE ON lookalike_groups TO jamsos_verification;
GRANT SELECT ON lookalike_groups TO jamsos_operator;
