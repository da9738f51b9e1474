-- Signing in: staff accounts (argon2 password hashes, one role, one carrier) and sessions for
-- staff and travellers (the cookie holds a random token; only its hash is kept here).

CREATE TABLE staff (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    carrier_code TEXT NOT NULL REFERENCES carriers(code),
    created_at BIGINT NOT NULL,
    disabled_at BIGINT
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject BIGINT NOT NULL,
    carrier_code TEXT,
    csrf_token TEXT NOT NULL,
    language TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Travellers sign in with their e-mail address: looked up by a hash, not by the address.
ALTER TABLE customers ADD COLUMN email_lookup TEXT;
CREATE INDEX customers_email_lookup ON customers (email_lookup);
