-- An eSIM line's profile on the operator's SM-DP+: the state simdesk last learnt (from its own
-- ES2+ calls or the SM-DP+'s progress notifications) and the activation code, sealed.
CREATE TABLE esim_profiles (
    line_id BIGINT PRIMARY KEY REFERENCES lines(id),
    state TEXT NOT NULL,
    -- When the SM-DP+ said the profile reached `state` (µs); NULL when simdesk's own call did.
    state_as_of BIGINT,
    -- The phone's EID once the order names it or a notification reports it.
    eid TEXT,
    -- The ES2+ call queued and not answered yet (order, release, cancel); NULL when none.
    pending TEXT,
    -- The activation code, sealed under a data key of its own bound to the line; NULL until the
    -- SM-DP+ has confirmed an order (or the stock file brought one).
    code_sealed BYTEA,
    code_key BYTEA,
    code_master_id TEXT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX esim_profiles_master ON esim_profiles (code_master_id);

-- Every HandleDownloadProgressInfo notification once: the same one delivered again (or
-- retried by the SM-DP+) matches its row and changes nothing.
CREATE TABLE esim_reports (
    id BIGSERIAL PRIMARY KEY,
    line_id BIGINT NOT NULL REFERENCES lines(id),
    point TEXT NOT NULL,
    status TEXT NOT NULL,
    reported_at BIGINT NOT NULL,
    eid TEXT,
    subject_code TEXT,
    reason_code TEXT,
    message TEXT,
    -- What it meant: moved, failed, already_known or contradicts.
    outcome TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    UNIQUE (line_id, point, status, reported_at)
);

-- Activation codes a stock file brought are sealed into esim_profiles in the import's own
-- transaction (and, for lines imported before, on the first start); this finds any left.
CREATE INDEX lines_plain_activation_code ON lines (id) WHERE activation_code IS NOT NULL;
