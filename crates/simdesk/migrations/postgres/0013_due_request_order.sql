-- Due cancellations are claimed in (effective_at, id) order. Without id in the index, every claim
-- sorted all requests due at the same instant (at a holiday season's end, tens of thousands).
CREATE INDEX cancellation_requests_due_order ON cancellation_requests (state, effective_at, id);
DROP INDEX cancellation_requests_due;
