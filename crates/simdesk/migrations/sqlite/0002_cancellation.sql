-- Cancellation: requests and their steps, identity proofs, e-wallet ledger, payouts, receipts,
-- the outbox of side effects, and the journal of the recording network.

CREATE TABLE cancellation_requests (
    id INTEGER PRIMARY KEY,
    line_id BIGINT NOT NULL REFERENCES lines(id),
    carrier_code TEXT NOT NULL,
    channel TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    submitted_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    required_checks TEXT NOT NULL,
    passed_checks TEXT NOT NULL,
    effective_date TEXT,
    effective_at BIGINT,
    reject_reason TEXT,
    policy_version BIGINT NOT NULL,
    refund_total BIGINT,
    refund_currency TEXT,
    refund_detail TEXT,
    receipt_number TEXT,
    completed_at BIGINT,
    version BIGINT NOT NULL DEFAULT 0
);
-- At most one open request per line, whatever channel it came from.
CREATE UNIQUE INDEX cancellation_requests_one_open ON cancellation_requests (line_id)
    WHERE state IN ('submitted', 'identity_verified', 'approved');
CREATE INDEX cancellation_requests_due ON cancellation_requests (state, effective_at);

CREATE TABLE request_events (
    id INTEGER PRIMARY KEY,
    request_id BIGINT NOT NULL REFERENCES cancellation_requests(id),
    from_state TEXT,
    to_state TEXT NOT NULL,
    note TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    reason TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX request_events_request ON request_events (request_id, id);

-- Codes are kept only as keyed hashes.
CREATE TABLE one_time_codes (
    id INTEGER PRIMARY KEY,
    line_id BIGINT NOT NULL REFERENCES lines(id),
    request_id BIGINT REFERENCES cancellation_requests(id),
    destination TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    used_at BIGINT
);
CREATE INDEX one_time_codes_line ON one_time_codes (line_id, issued_at);

CREATE TABLE identity_documents (
    id INTEGER PRIMARY KEY,
    request_id BIGINT NOT NULL REFERENCES cancellation_requests(id),
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    content BLOB,
    uploaded_at BIGINT NOT NULL,
    uploaded_by TEXT NOT NULL,
    review TEXT NOT NULL DEFAULT 'pending',
    review_reason TEXT,
    reviewed_by TEXT,
    reviewed_at BIGINT
);
CREATE INDEX identity_documents_request ON identity_documents (request_id);

CREATE TABLE wallet_movements (
    id INTEGER PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    kind TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    request_id BIGINT REFERENCES cancellation_requests(id),
    note TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX wallet_movements_customer ON wallet_movements (customer_id, id);

CREATE TABLE wallet_postings (
    id INTEGER PRIMARY KEY,
    movement_id BIGINT NOT NULL REFERENCES wallet_movements(id),
    account TEXT NOT NULL,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL
);
CREATE INDEX wallet_postings_account ON wallet_postings (account);

CREATE TABLE payouts (
    id INTEGER PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    movement_id BIGINT NOT NULL REFERENCES wallet_movements(id),
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    destination TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    sent_at BIGINT,
    external_ref TEXT
);

-- Gap-free receipt numbers per carrier and Japanese year: the counter moves in the same
-- transaction that issues the receipt.
CREATE TABLE receipt_counters (
    carrier_code TEXT NOT NULL,
    year BIGINT NOT NULL,
    last_number BIGINT NOT NULL,
    PRIMARY KEY (carrier_code, year)
);

CREATE TABLE receipts (
    number TEXT PRIMARY KEY,
    carrier_code TEXT NOT NULL,
    year BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    request_id BIGINT NOT NULL UNIQUE REFERENCES cancellation_requests(id),
    document TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    UNIQUE (carrier_code, year, seq)
);

-- Every side effect leaves through here, once, keyed.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    leased_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    done_at BIGINT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

-- The recording network's journal: what would have been sent to the subscriber database.
CREATE TABLE network_calls (
    id INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    operation TEXT NOT NULL,
    imsi TEXT NOT NULL,
    msisdn TEXT NOT NULL,
    at BIGINT NOT NULL
);
