-- Online-charging grants held for a Diameter session until the network reports what it used or
-- goes silent. A grant is reserved, not spent: usage records spend; a reservation only keeps
-- other sessions of the same line from being granted the same units. One row per session and
-- service (rating group); the request number says which request's answer it was, so a
-- repeated request is answered the same.
CREATE TABLE credit_reservations (
    session_id TEXT NOT NULL,
    service_key TEXT NOT NULL,
    line_id BIGINT NOT NULL REFERENCES lines(id),
    service TEXT NOT NULL,
    -- Bytes, seconds or messages granted.
    units BIGINT NOT NULL,
    request_number BIGINT NOT NULL,
    final_unit BOOLEAN NOT NULL,
    granted_at BIGINT NOT NULL,
    -- The grant's validity: a session not heard from by then has gone silent, and what it holds
    -- is released.
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, service_key)
);
CREATE INDEX credit_reservations_line ON credit_reservations (line_id, service);
CREATE INDEX credit_reservations_expiry ON credit_reservations (expires_at);
