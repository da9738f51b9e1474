-- Side effects on one subscriber leave in the order they were decided: a row waits while an
-- older one for the same subject is still pending.
ALTER TABLE outbox ADD COLUMN subject TEXT;
CREATE INDEX outbox_subject ON outbox (subject, id) WHERE state = 'pending';
CREATE INDEX outbox_state_kind ON outbox (state, kind);
