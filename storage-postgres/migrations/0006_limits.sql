-- Flow-control limits. Times are BIGINT microseconds given by the caller; counts are
-- BIGINT because the core's are u32.
--
-- - jobs.limit_key: the key a job's limit is stored under (NULL: none; only its
--   queue's limit applies). No default, so PostgreSQL adds it without rewriting the
--   table.
-- - limits: one row per limited scope, a key ('key') or a queue ('queue'): at most
--   max_running jobs holding a live lease at once, at most rate_starts claims in any
--   rate_per microseconds; either or both. A claim of a limited scope locks its row
--   (FOR UPDATE), so claims that touch one limit take turns and never overshoot it.
-- - limit_starts: the claims counted against a scope's rate, one row per claimed job
--   at the time given to the claim; each claim keeps only a scope's latest rate_starts
--   rows.
ALTER TABLE jobs ADD COLUMN limit_key TEXT;

-- Pending rows of a key in claim order: a limited key's claim reads only the jobs its
-- limit lets through, however many of them wait.
CREATE INDEX jobs_limit_ready ON jobs (limit_key, priority, run_at, id)
    WHERE state = 'pending' AND limit_key IS NOT NULL;

-- Running rows of a key by lease expiry: how many of a key's leases are live, and when
-- the first one ends.
CREATE INDEX jobs_limit_leased ON jobs (limit_key, lease_until)
    WHERE state = 'running' AND limit_key IS NOT NULL;

CREATE TABLE limits (
    scope       TEXT    NOT NULL CHECK (scope IN ('key', 'queue')),
    name        TEXT    NOT NULL,
    max_running BIGINT  CHECK (max_running >= 1),
    rate_starts BIGINT  CHECK (rate_starts >= 1),
    rate_per    BIGINT  CHECK (rate_per >= 1),
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (scope, name),
    CHECK (max_running IS NOT NULL OR rate_starts IS NOT NULL),
    CHECK ((rate_starts IS NULL) = (rate_per IS NULL))
);

CREATE TABLE limit_starts (
    scope TEXT   NOT NULL,
    name  TEXT   NOT NULL,
    at    BIGINT NOT NULL
);

CREATE INDEX limit_starts_by_scope ON limit_starts (scope, name, at);
