-- Due cancellations are claimed in (effective_at, id) order. Without id in the index, every claim
-- sorted all requests due at the same instant (at a holiday season's end, tens of thousands).
CREATE INDEX cancellation_requests_due_order ON cancellation_requests (state, effective_at, id);
DROP INDEX cancellation_requests_due;

-- A line's add-ons are read on every status read and every completion; the only index was the
-- partial one on bindings still in force, which a lookup by line alone cannot use.
CREATE INDEX line_addons_line ON line_addons (line_id);
