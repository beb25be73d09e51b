-- Look-alike candidates by group (issue 11: province scale).
--
-- Verification compares a worker's name only with active participants of the same birth date,
-- sex and village (domain/dedup.py), but read its candidates by birth date alone, through
-- `participants_birth_date`. Birth dates spread over ~14,000 days, so at a province's
-- 1,000,000 participants each has ~70 of them: a batch of 2,000 submissions read ~125,000 rows
-- (and made as many objects) to compare a handful, and verification's rate fell as
-- `participants` grew (the 1.25M-message province run: ~500-630 submissions a second).
-- By the whole group a worker has ~0.3 candidates at that size. The birth-date index has no
-- other reader; the group index replaces it (the same writes per enrolment).
-- The new index is built first: CREATE INDEX lets `participants` be read meanwhile, and DROP
-- INDEX's exclusive lock comes last, held only to the commit. IF EXISTS: a database whose
-- index was dropped by hand still migrates.
CREATE INDEX participants_lookalike_group ON participants (birth_date, sex, village_code)
    WHERE status = 'ACTIVE';
DROP INDEX IF EXISTS participants_birth_date;
