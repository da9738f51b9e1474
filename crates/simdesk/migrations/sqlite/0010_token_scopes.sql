-- API tokens carry scopes (comma-separated), an optional expiry and when they were last used.
-- Tokens made before scopes existed keep working: they get every scope.
ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT 'lines:read,cancellations:read,cancellations:write,identity:review,wallets:read,payouts:write,receipts:read';
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
ALTER TABLE api_tokens ADD COLUMN last_used_at BIGINT;

-- Who created or revoked a token or added a staff member, when and why.
CREATE TABLE admin_events (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    reason TEXT NOT NULL
);
