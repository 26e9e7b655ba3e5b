-- What a job carries beyond its run: when its attempts started, its failed attempts,
-- its output, its tags and metadata; and named locks. Times are integer microseconds
-- given by the caller, never read from the database's clock.
--
-- first_attempted_at is set by the first claim, attempted_at by every claim. errors is
-- a JSON array of {"attempt", "at" (microseconds), "error"}, oldest first: retry, fail
-- and a claim failing an expired last lease append to it, keeping the latest 20
-- (leasehold::ERROR_HISTORY_LIMIT). output is the JSON a handler completed with (NULL:
-- none); tags a JSON array of strings; metadata a JSON object.
ALTER TABLE jobs ADD COLUMN first_attempted_at INTEGER;
ALTER TABLE jobs ADD COLUMN attempted_at INTEGER;
ALTER TABLE jobs ADD COLUMN errors TEXT NOT NULL DEFAULT '[]';
ALTER TABLE jobs ADD COLUMN output TEXT;
ALTER TABLE jobs ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE jobs ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';

-- Finished holders of a unique key by finish time: an enqueue with a unique period
-- looks for one that finished within the period.
CREATE INDEX jobs_unique_finished ON jobs (unique_key, finished_at)
    WHERE unique_key IS NOT NULL AND state IN ('completed', 'failed', 'cancelled');

-- One row per named lock (maintenance that one process runs at a time): held by
-- holder until `until`, and free from then on. take_lock writes it.
CREATE TABLE locks (
    name   TEXT    NOT NULL PRIMARY KEY,
    holder TEXT    NOT NULL,
    until  INTEGER NOT NULL
) STRICT;
