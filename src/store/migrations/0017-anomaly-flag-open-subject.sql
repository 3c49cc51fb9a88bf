-- An intake reads the open flags on its customer and on its sources in the statement that reads the anomaly
-- rules' history (store/anomaly-repo.ts anomalyHistory); the sources are found by subject. The unique index on
-- (rule, subject) leads with the rule, so it cannot serve that lookup.
CREATE INDEX anomaly_flag_open_by_subject ON anomaly_flag (subject) WHERE status = 'open';
