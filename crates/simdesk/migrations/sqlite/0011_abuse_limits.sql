-- Abuse limits: one counter per (scope, subject) for the current fixed window, and a lockout
-- end. Every node counts here, so limits hold across nodes. Subjects are keyed hashes (of an
-- address, an identifier or a username) or plain ids, never personal data in clear.

CREATE TABLE abuse_limits (
    scope TEXT NOT NULL,
    subject TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    count BIGINT NOT NULL,
    locked_until BIGINT,
    PRIMARY KEY (scope, subject)
);
