-- The API edge: operator systems' tokens (stored hashed, scoped to one carrier, revocable) and
-- the responses remembered per Idempotency-Key.

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    carrier_code TEXT NOT NULL REFERENCES carriers(code),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE idempotency_keys (
    caller TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status BIGINT,
    response TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (caller, idempotency_key)
);
