-- Security questions (issue #3): the answers only as argon2id hashes of their normalised form.
CREATE TABLE security_question (
  customer_id uuid NOT NULL REFERENCES customer (id),
  question text NOT NULL,
  answer_hash text NOT NULL,
  set_at timestamptz NOT NULL,
  PRIMARY KEY (customer_id, question)
);
