-- Issue #9: every audit entry keeps the exact text its hash covers (its canonical JSON), so `audit verify` hashes
-- stored bytes inside the database instead of decoding and re-canonicalising each row in Node (6% of the raw
-- SHA-256 rate), and verification no longer depends on a JSON library writing the same bytes forever.
ALTER TABLE audit_entry ADD COLUMN hashed_json text;

-- The columns say what the hashed text says: an entry whose columns were edited without its text breaks this,
-- and one whose text was edited breaks its hash. NOT VALID until the entries written before this migration have
-- their text (`backfillAuditHashedJson`, run by `migrate`), which then validates it; verification checks that it
-- is there and validated.
ALTER TABLE audit_entry ADD CONSTRAINT audit_entry_hashed_json_matches CHECK (coalesce(
  hashed_json IS NOT NULL
  AND (hashed_json::jsonb - 'occurredAt') = jsonb_build_object(
    'chain', chain, 'seq', seq, 'prevHash', prev_hash, 'actor', actor, 'action', action,
    'changeRequestId', change_request_id, 'details', details)
  AND (hashed_json::jsonb ->> 'occurredAt')::timestamptz = occurred_at,
  false)) NOT VALID;

-- The chain walk reads (chain, seq, prev_hash, hash) from the index alone.
ALTER TABLE audit_entry ADD CONSTRAINT audit_entry_chain_seq_unique UNIQUE (chain, seq) INCLUDE (prev_hash, hash);
ALTER TABLE audit_entry DROP CONSTRAINT audit_entry_chain_seq_key;

-- Still append-only, with one exception: the one-time filling of hashed_json on an entry written before it
-- existed, changing nothing else.
CREATE FUNCTION amend_refuse_audit_entry_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.hashed_json IS NULL AND NEW.hashed_json IS NOT NULL
     AND (to_jsonb(NEW) - 'hashed_json') = (to_jsonb(OLD) - 'hashed_json') THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'the audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$$;
DROP TRIGGER audit_entry_append_only ON audit_entry;
CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry
  FOR EACH ROW EXECUTE FUNCTION amend_refuse_audit_entry_rewrite();
