-- An operator may drop a dead letter that must not be replayed (`jamsos ops dlq discard`):
-- the letter and its bytes stay, with when and why it was discarded.
ALTER TABLE dead_letters ADD COLUMN discarded_at timestamptz;
ALTER TABLE dead_letters ADD COLUMN discard_reason text;
ALTER TABLE dead_letters ADD CONSTRAINT dead_letters_discard_reason
    CHECK ((discarded_at IS NULL) = (discard_reason IS NULL));
