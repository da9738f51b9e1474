-- Personal data at rest is sealed (XChaCha20-Poly1305) under data keys that only the master key,
-- kept outside the database, can unwrap. Equality lookups go through keyed blind indexes.

-- Plaintext from before sealing; simdesk seals and empties it on its first start with a master key.
ALTER TABLE customers RENAME COLUMN personal_data TO legacy_personal_data;
DROP INDEX customers_email_lookup;
ALTER TABLE customers DROP COLUMN email_lookup;
-- Name, passport number, nationality and birth date: the identity record the law may hold.
ALTER TABLE customers ADD COLUMN identity_sealed BYTEA;
-- Contact phone and e-mail.
ALTER TABLE customers ADD COLUMN contact_sealed BYTEA;
ALTER TABLE customers ADD COLUMN contact_erased_at BIGINT;
ALTER TABLE customers ADD COLUMN identity_erased_at BIGINT;
-- When the erasure sweep next has something to do for this customer (NULL: not yet looked at).
ALTER TABLE customers ADD COLUMN erasure_due_at BIGINT;
CREATE INDEX customers_erasure_due ON customers (erasure_due_at);

-- One data key per customer and purpose (identity, contact), wrapped under the master key.
-- Deleting a row crypto-shreds what it sealed.
CREATE TABLE customer_keys (
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    purpose TEXT NOT NULL,
    master_id TEXT NOT NULL,
    wrapped BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (customer_id, purpose)
);
CREATE INDEX customer_keys_master ON customer_keys (master_id);

-- Keyed hashes (HMAC-SHA256) of normalised values: e-mail, passport number and each name word.
CREATE TABLE customer_index (
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (field, value, customer_id)
);
CREATE INDEX customer_index_customer ON customer_index (customer_id);

-- Each identity document has its own data key, so erasing one never touches another.
ALTER TABLE identity_documents ADD COLUMN wrapped_key BYTEA;
ALTER TABLE identity_documents ADD COLUMN master_id TEXT;
ALTER TABLE identity_documents ADD COLUMN erased_at BIGINT;

-- Which index key the stored blind indexes were made with: another key would match nothing.
CREATE TABLE vault_meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
