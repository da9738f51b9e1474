-- The store counter's queue: numbered tickets a walk-in takes at the kiosk, called to a counter.
CREATE TABLE queue_tickets (
    id INTEGER PRIMARY KEY,
    carrier_code TEXT NOT NULL REFERENCES carriers(code),
    day TEXT NOT NULL,
    number BIGINT NOT NULL,
    state TEXT NOT NULL DEFAULT 'waiting',
    counter TEXT,
    called_by TEXT,
    created_at BIGINT NOT NULL,
    called_at BIGINT,
    done_at BIGINT,
    UNIQUE (carrier_code, day, number)
);
CREATE INDEX queue_tickets_waiting ON queue_tickets (carrier_code, day, state, number);
