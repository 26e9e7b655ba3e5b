-- What a job carries beyond its definition, and named locks. Times are BIGINT
-- microseconds given by the caller. Every column added has a constant default (or
-- none), so PostgreSQL adds them without rewriting the table.
--
-- - first_attempted_at, attempted_at: the time given to the job's first and latest
--   claim.
-- - errors: its failed attempts, oldest first, the latest 20 (the core's
--   ERROR_HISTORY_LIMIT): a `jsonb` array of {"attempt": n, "at": <microseconds>,
--   "error": "..."}, appended to in SQL by the writes that record an error. Jobs stored
--   before this migration start with an empty history (their last_error stays).
-- - output: what the handler recorded with its completion, NULL for none; `json`, so
--   it keeps the text exactly as given (as the payload does).
-- - tags: a `jsonb` array of strings, so a filter selects a tag with `tags ? $tag`.
-- - metadata: a `json` object, kept exactly as given.
ALTER TABLE jobs
    ADD COLUMN first_attempted_at BIGINT,
    ADD COLUMN attempted_at       BIGINT,
    ADD COLUMN errors             JSONB NOT NULL DEFAULT '[]',
    ADD COLUMN output             JSON,
    ADD COLUMN tags               JSONB NOT NULL DEFAULT '[]',
    ADD COLUMN metadata           JSON  NOT NULL DEFAULT '{}';

-- Finished holders of a unique key by finish time: an enqueue with a unique period
-- looks up the latest one that ended within the period.
CREATE INDEX jobs_unique_finished ON jobs (unique_key, finished_at)
    WHERE unique_key IS NOT NULL AND state IN ('completed', 'failed', 'cancelled');

-- One row per named lock (maintenance that one process runs at a time): held by
-- `holder` until `until`, free from then on. take_lock upserts it.
CREATE TABLE locks (
    name   TEXT   NOT NULL PRIMARY KEY,
    holder TEXT   NOT NULL,
    until  BIGINT NOT NULL
);
