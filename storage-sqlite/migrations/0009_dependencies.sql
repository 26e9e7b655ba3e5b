-- Dependencies: a job may wait for other jobs. Times are integer microseconds given by
-- the caller, never read from the database's clock.
--
-- - jobs.state gains 'waiting': a job whose dependencies have not all completed. No
--   claim, promotion or index of pending jobs reads it; it holds its unique key.
-- - jobs.depends_on: the ids it waits (or waited) for, a JSON array of hyphenated
--   UUIDs (NULL: none), with jobs.on_dependency_failure ('cancel', 'fail', 'ignore';
--   NULL with none). jobs.waiting_for: while waiting, how many of them have not ended.
-- - jobs.has_dependents: 1 once a job has a dependent, so that its end settles them;
--   an end without any costs nothing more.
-- - job_dependencies: one row per (dependency, dependent): a job's dependents by its id.
-- - dependency_settle: the jobs that ended with dependents in the transaction running,
--   written by the trigger below; the store's writer settles their dependents (and
--   theirs) before it commits, so no transaction commits with a row here.
--
-- SQLite cannot change a CHECK constraint in place, so jobs is rebuilt (the documented
-- way: a new table, the rows copied, the old one dropped and the new one renamed), its
-- indexes and its trigger made again, the unique index counting waiting jobs too as
-- holders of their key. Upgrading a large database rewrites it once.
CREATE TABLE jobs_new (
    id           BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    kind         TEXT    NOT NULL,
    queue        TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    priority     INTEGER NOT NULL,
    state        TEXT    NOT NULL
        CHECK (state IN ('waiting', 'scheduled', 'available', 'running', 'completed',
                         'failed', 'cancelled')),
    run_at       INTEGER NOT NULL,
    attempt      INTEGER NOT NULL CHECK (attempt >= 0),
    max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
    lease_token  INTEGER NOT NULL CHECK (lease_token >= 0),
    lease_until  INTEGER,
    worker       TEXT,
    unique_key   TEXT,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    first_attempted_at INTEGER,
    attempted_at       INTEGER,
    errors       TEXT    NOT NULL DEFAULT '[]',
    output       TEXT,
    tags         TEXT    NOT NULL DEFAULT '[]',
    metadata     TEXT    NOT NULL DEFAULT '{}',
    limit_key    TEXT,
    depends_on   TEXT,
    on_dependency_failure TEXT
        CHECK (on_dependency_failure IN ('cancel', 'fail', 'ignore')),
    waiting_for  INTEGER NOT NULL DEFAULT 0,
    has_dependents INTEGER NOT NULL DEFAULT 0 CHECK (has_dependents IN (0, 1))
) STRICT;

INSERT INTO jobs_new (id, kind, queue, payload, priority, state, run_at, attempt,
                      max_attempts, lease_token, lease_until, worker, unique_key,
                      last_error, created_at, finished_at, first_attempted_at,
                      attempted_at, errors, output, tags, metadata, limit_key)
SELECT id, kind, queue, payload, priority, state, run_at, attempt, max_attempts,
       lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at,
       first_attempted_at, attempted_at, errors, output, tags, metadata, limit_key
FROM jobs;

DROP TABLE jobs;

ALTER TABLE jobs_new RENAME TO jobs;

CREATE INDEX jobs_ready ON jobs (queue, priority, run_at, id) WHERE state = 'available';

CREATE INDEX jobs_scheduled ON jobs (queue, run_at) WHERE state = 'scheduled';

CREATE INDEX jobs_leased ON jobs (queue, lease_until) WHERE state = 'running';

-- At most one non-terminal job per unique key, a waiting one included.
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('waiting', 'scheduled', 'available', 'running');

CREATE INDEX jobs_finished ON jobs (finished_at, id)
    WHERE state IN ('completed', 'failed', 'cancelled');

CREATE INDEX jobs_unique_finished ON jobs (unique_key, finished_at)
    WHERE unique_key IS NOT NULL AND state IN ('completed', 'failed', 'cancelled');

CREATE INDEX jobs_ready_by_key ON jobs (limit_key, priority, run_at, id)
    WHERE state = 'available' AND limit_key IS NOT NULL;

CREATE INDEX jobs_leased_by_key ON jobs (limit_key, lease_until)
    WHERE state = 'running' AND limit_key IS NOT NULL;

CREATE INDEX jobs_pending_by_key ON jobs (limit_key, queue, run_at)
    WHERE state IN ('scheduled', 'available') AND limit_key IS NOT NULL;

CREATE INDEX jobs_failed_or_cancelled ON jobs (state, id)
    WHERE state IN ('failed', 'cancelled');

-- As migration 0007 made it (dropped with the old table).
CREATE TRIGGER jobs_claim_counts_starts
AFTER UPDATE OF lease_token ON jobs
FOR EACH ROW
WHEN NEW.lease_token > OLD.lease_token
 AND (EXISTS (SELECT 1 FROM limits
              WHERE scope = 'key' AND name = NEW.limit_key AND rate_starts IS NOT NULL)
      OR EXISTS (SELECT 1 FROM limits
                 WHERE scope = 'queue' AND name = NEW.queue AND rate_starts IS NOT NULL))
BEGIN
    INSERT INTO limit_starts (scope, name, at)
    SELECT scope, name, NEW.attempted_at FROM limits
    WHERE scope = 'key' AND name = NEW.limit_key AND rate_starts IS NOT NULL;
    INSERT INTO limit_starts (scope, name, at)
    SELECT scope, name, NEW.attempted_at FROM limits
    WHERE scope = 'queue' AND name = NEW.queue AND rate_starts IS NOT NULL;
    DELETE FROM limit_starts
    WHERE rowid IN (
        SELECT rowid FROM limit_starts
        WHERE scope = 'key' AND name = NEW.limit_key
        ORDER BY at, rowid
        LIMIT coalesce((SELECT max(rate_counted - rate_starts, 0) FROM limits
                        WHERE scope = 'key' AND name = NEW.limit_key), 0)
    );
    DELETE FROM limit_starts
    WHERE rowid IN (
        SELECT rowid FROM limit_starts
        WHERE scope = 'queue' AND name = NEW.queue
        ORDER BY at, rowid
        LIMIT coalesce((SELECT max(rate_counted - rate_starts, 0) FROM limits
                        WHERE scope = 'queue' AND name = NEW.queue), 0)
    );
END;

-- A job's dependents by its id (the primary key), and what a dependent waits for.
CREATE TABLE job_dependencies (
    dependency BLOB NOT NULL,
    dependent  BLOB NOT NULL,
    PRIMARY KEY (dependency, dependent)
) STRICT, WITHOUT ROWID;

CREATE INDEX job_dependencies_by_dependent ON job_dependencies (dependent);

CREATE TABLE dependency_settle (
    job_id BLOB    NOT NULL PRIMARY KEY,
    state  TEXT    NOT NULL,
    at     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- A job with dependents that ends (from waiting, pending or running) is queued for the
-- writer to settle its dependents, in the same transaction: one place for every verb
-- that ends jobs, the claim's expiries and the bulk cancel included.
CREATE TRIGGER jobs_ended_with_dependents
AFTER UPDATE OF state ON jobs
FOR EACH ROW
WHEN NEW.has_dependents = 1
 AND NEW.state IN ('completed', 'failed', 'cancelled')
 AND OLD.state NOT IN ('completed', 'failed', 'cancelled')
BEGIN
    INSERT INTO dependency_settle (job_id, state, at)
    VALUES (NEW.id, NEW.state, NEW.finished_at);
END;

-- A deleted job (retention, an operator) takes its rows of job_dependencies with it;
-- a job with no dependency and no dependent costs nothing more.
CREATE TRIGGER jobs_deleted_forget_dependencies
AFTER DELETE ON jobs
FOR EACH ROW
WHEN OLD.has_dependents = 1 OR OLD.depends_on IS NOT NULL
BEGIN
    DELETE FROM job_dependencies WHERE dependency = OLD.id;
    DELETE FROM job_dependencies WHERE dependent = OLD.id;
END;
