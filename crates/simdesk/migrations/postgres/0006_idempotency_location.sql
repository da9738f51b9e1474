-- A remembered answer keeps its Location header, so a replayed 201 still says where the resource is.
ALTER TABLE idempotency_keys ADD COLUMN location TEXT;
