-- Due cancellations are claimed in (effective_at, id) order. SQLite's index on
-- (state, effective_at) already ends in the rowid (the id), so it gives that order unsorted; the
-- PostgreSQL schema adds id to its index in this step.

-- A line's add-ons are read on every status read and every completion; the only index was the
-- partial one on bindings still in force, which a lookup by line alone cannot use.
CREATE INDEX line_addons_line ON line_addons (line_id);
