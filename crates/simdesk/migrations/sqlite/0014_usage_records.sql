-- Usage the network reported (from files of usage records or over the API), each counted once:
-- a record id is unique per carrier, so a file imported twice, or a retry, changes nothing.
CREATE TABLE usage_records (
    id INTEGER PRIMARY KEY,
    carrier_code TEXT NOT NULL REFERENCES carriers(code),
    record_id TEXT NOT NULL,
    line_id BIGINT NOT NULL REFERENCES lines(id),
    service TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    volume BIGINT NOT NULL,
    -- The volume after the policy's rounding (bytes, seconds or messages).
    rounded BIGINT NOT NULL,
    network TEXT,
    rating_group BIGINT,
    -- rated: paid from the line's buckets (in part, where unpaid says what was not);
    -- written_off: a late record after the line ended, kept with what it would have cost.
    outcome TEXT NOT NULL,
    -- What it took from buckets: megabytes and money minor units.
    taken_mb BIGINT NOT NULL,
    taken_money BIGINT NOT NULL,
    unpaid TEXT,
    -- The file it came from, or "api".
    source TEXT NOT NULL,
    event_id BIGINT REFERENCES line_events(id),
    counted_at BIGINT NOT NULL,
    UNIQUE (carrier_code, record_id)
);
CREATE INDEX usage_records_line ON usage_records (line_id, started_at);

-- What a line's usage left between records: bytes short of a whole megabyte, and the latest
-- instant any record reached (the quote and the receipt say usage is counted up to it).
CREATE TABLE line_usage (
    line_id BIGINT PRIMARY KEY REFERENCES lines(id),
    carry_bytes BIGINT NOT NULL,
    counted_until BIGINT NOT NULL
);
