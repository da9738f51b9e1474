-- Whether a line's data is stopped because nothing is left to pay for it: 'bar' (barred on the
-- network's subscriber database) or 'throttle' (slowed by the network; simdesk only records it).
-- NULL while data flows. A top-up or a data pack lifts it.
ALTER TABLE line_usage ADD COLUMN data_stopped TEXT;
