-- The audit trail: every history entry, copied and chained to the one before by a hash, so an
-- entry edited, deleted or moved afterwards is found by `simdesk audit verify`.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    source TEXT NOT NULL,
    source_id BIGINT NOT NULL,
    content TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_source ON audit_log (source, source_id);

-- The end of the chain; appending locks this row, so entries are chained one at a time.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Append-only for simdesk itself; someone with the database file can drop these, which the
-- chain then shows.
CREATE TRIGGER audit_log_append_only_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_log_append_only_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
