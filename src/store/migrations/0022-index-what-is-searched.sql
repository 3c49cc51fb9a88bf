-- Issue #9: two indexes every import and every change paid for, and what they bought.
--
-- customer (key_id) served nothing: the one question asked of it is which customers are sealed under an older key
-- (`key_id IS NULL OR key_id <> current`, customer-repo), and a B-tree cannot answer `<>`, so PostgreSQL scans
-- the table for it with or without the index (EXPLAIN says so). Each new customer still added an entry to it.
DROP INDEX customer_key_id_idx;

-- audit_entry (occurred_at) answers the audit log's window queries (`from`/`to` without an action). The log is
-- append-only and written in time order, so the entries of a window lie together on disk: a BRIN index, a
-- summary of each 128 pages, finds them as the B-tree did, with an entry per range rather than per audit entry
-- (tens of kilobytes against ~20 MB a million). autosummarize summarises each range as it fills; until then the
-- range is always read. Together the two saved ~1 of PostgreSQL's ~29 CPU-seconds in a million-customer import
-- (two interleaved pairs: within the noise).
DROP INDEX audit_entry_occurred_idx;
CREATE INDEX audit_entry_occurred_idx ON audit_entry USING brin (occurred_at) WITH (autosummarize = on);
