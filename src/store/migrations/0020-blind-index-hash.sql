-- Issue #9: the blind indexes of a customer's email and phone (HMAC-SHA-256, 64 hex characters) are random, so
-- every new customer landed on a random page of two B-trees of 100-byte keys: a fifth of PostgreSQL's time in a
-- customer import. They are only ever looked up by equality (customer-repo: a customer by email or phone, the
-- others sharing a contact), which hash indexes answer with a 4-byte hash per entry.
DROP INDEX customer_email_index_idx;
DROP INDEX customer_phone_index_idx;
CREATE INDEX customer_email_index_idx ON customer USING hash (email_index);
CREATE INDEX customer_phone_index_idx ON customer USING hash (phone_index);
