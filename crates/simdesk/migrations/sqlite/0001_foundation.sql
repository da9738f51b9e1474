-- Foundation: policies, customers, lines, their history, balance and add-ons.
-- Instants are stored as UTC microseconds since the Unix epoch (BIGINT) on both backends.

CREATE TABLE policy_documents (
    id INTEGER PRIMARY KEY,
    carrier_code TEXT NOT NULL,
    plan_code TEXT NOT NULL DEFAULT '',           -- '' for the carrier document itself
    version BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    source_name TEXT NOT NULL,
    body TEXT NOT NULL,
    loaded_at BIGINT NOT NULL,
    UNIQUE (carrier_code, plan_code, version)
);

CREATE TABLE carriers (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    policy_version BIGINT NOT NULL
);

CREATE TABLE plans (
    carrier_code TEXT NOT NULL REFERENCES carriers(code),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    policy_version BIGINT NOT NULL,
    PRIMARY KEY (carrier_code, code)
);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    language TEXT NOT NULL,
    personal_data TEXT NOT NULL,                  -- the one place personal fields are kept
    created_at BIGINT NOT NULL
);

-- Who stocked which lines, from which file, when.
CREATE TABLE import_batches (
    id INTEGER PRIMARY KEY,
    carrier_code TEXT NOT NULL REFERENCES carriers(code),
    source_name TEXT NOT NULL,
    line_count BIGINT NOT NULL,
    skipped_rows BIGINT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    reason TEXT NOT NULL,
    at BIGINT NOT NULL
);

CREATE TABLE lines (
    id INTEGER PRIMARY KEY,
    iccid TEXT NOT NULL UNIQUE,
    imsi TEXT NOT NULL UNIQUE,
    msisdn TEXT NOT NULL UNIQUE,
    carrier_code TEXT NOT NULL REFERENCES carriers(code),
    plan_code TEXT NOT NULL,
    kind TEXT NOT NULL,
    eid TEXT,
    activation_code TEXT,
    state TEXT NOT NULL,
    holder_id BIGINT REFERENCES customers(id),
    activated_at BIGINT,
    validity_ends_at BIGINT,
    grace_ends_at BIGINT,
    state_before_pending TEXT,
    ended_at BIGINT,
    version BIGINT NOT NULL DEFAULT 0,
    import_batch_id BIGINT NOT NULL REFERENCES import_batches(id),
    created_at BIGINT NOT NULL,
    FOREIGN KEY (carrier_code, plan_code) REFERENCES plans(carrier_code, code)
);
CREATE INDEX lines_due_expiry ON lines (state, validity_ends_at);
CREATE INDEX lines_due_close ON lines (state, grace_ends_at);
CREATE INDEX lines_holder ON lines (holder_id);

CREATE TABLE line_events (
    id INTEGER PRIMARY KEY,
    line_id BIGINT NOT NULL REFERENCES lines(id),
    kind TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT,
    detail TEXT NOT NULL DEFAULT '',
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    reason TEXT NOT NULL,
    at BIGINT NOT NULL,
    policy_version BIGINT
);
CREATE INDEX line_events_line ON line_events (line_id, id);

CREATE TABLE balance_buckets (
    id INTEGER PRIMARY KEY,
    line_id BIGINT NOT NULL REFERENCES lines(id),
    unit TEXT NOT NULL,
    initial_amount BIGINT NOT NULL,
    remaining BIGINT NOT NULL CHECK (remaining >= 0),
    expires_at BIGINT,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX balance_buckets_line ON balance_buckets (line_id);

CREATE TABLE balance_entries (
    id INTEGER PRIMARY KEY,
    line_id BIGINT NOT NULL REFERENCES lines(id),
    bucket_id BIGINT NOT NULL REFERENCES balance_buckets(id),
    kind TEXT NOT NULL,
    amount BIGINT NOT NULL,
    note TEXT NOT NULL,
    event_id BIGINT NOT NULL REFERENCES line_events(id),
    at BIGINT NOT NULL
);
CREATE INDEX balance_entries_line ON balance_entries (line_id, id);

CREATE TABLE line_addons (
    id INTEGER PRIMARY KEY,
    line_id BIGINT NOT NULL REFERENCES lines(id),
    addon_code TEXT NOT NULL,
    charge_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    bound_at BIGINT NOT NULL,
    bound_event_id BIGINT NOT NULL REFERENCES line_events(id),
    unbound_at BIGINT,
    unbound_event_id BIGINT REFERENCES line_events(id)
);
-- An add-on is bound at most once at a time.
CREATE UNIQUE INDEX line_addons_one_bound ON line_addons (line_id, addon_code) WHERE unbound_at IS NULL;
