-- The Kafka headers a dead letter arrived with ([name, base64 of the value] pairs), so that
-- `jamsos ops dlq replay` publishes them again: a signed letter stays signed, and an unsigned
-- or forged one is checked (and refused) again like any other record.
ALTER TABLE dead_letters ADD COLUMN headers jsonb NOT NULL DEFAULT '[]'::jsonb;
