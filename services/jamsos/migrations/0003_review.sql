-- Held submissions: the participants a submission looks like (registration.review-required),
-- and who resolved the hold. Look-ups of active participants by birth date feed the matcher.
ALTER TABLE submissions ADD COLUMN candidates jsonb;
ALTER TABLE submissions ADD COLUMN reviewed_by text;
CREATE INDEX submissions_review ON submissions (received_at) WHERE status = 'REVIEW';
CREATE INDEX participants_birth_date ON participants (birth_date) WHERE status = 'ACTIVE';
