-- Due cancellations are claimed in (effective_at, id) order. SQLite's index on
-- (state, effective_at) already ends in the rowid (the id), so it gives that order unsorted; the
-- PostgreSQL schema adds id to the index in this step.
SELECT 1;
