-- Due cancellations are completed under a lease, so several nodes share them instead of racing
-- for the same rows: a node claims a batch until `claimed_until` (the real clock, in
-- microseconds) under its name; a node that dies holding a lease loses it when it lapses.

ALTER TABLE cancellation_requests ADD COLUMN claimed_until BIGINT;
ALTER TABLE cancellation_requests ADD COLUMN claimed_by TEXT;

-- Nodes look for pending side effects in id order many times a second: they find them without
-- reading past every row already delivered, however long the outbox's history grows.
CREATE INDEX outbox_pending ON outbox (id) WHERE state = 'pending';
