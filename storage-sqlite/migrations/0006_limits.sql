-- Flow-control limits: a job's limit key, the limits stored per key or per queue, and
-- the claims each rate counted. Times are integer microseconds given by the caller,
-- never read from the database's clock.
--
-- limit_key is the key a job was enqueued with (NULL: none); only a key with a row in
-- limits limits anything.
ALTER TABLE jobs ADD COLUMN limit_key TEXT;

-- Due rows of a key in claim order: a claim walks a limited key's first jobs only, up
-- to what the key allows, however many of them wait.
CREATE INDEX jobs_ready_by_key ON jobs (limit_key, priority, run_at, id)
    WHERE state = 'available' AND limit_key IS NOT NULL;

-- Running rows of a key by lease expiry: what a key's max_running counts (live leases),
-- when it opens (the earliest expiry), and its expired leases for a claim to rescue.
CREATE INDEX jobs_leased_by_key ON jobs (limit_key, lease_until)
    WHERE state = 'running' AND limit_key IS NOT NULL;

-- Pending rows of a key per queue by run time: next_due's earliest job of a full key.
CREATE INDEX jobs_pending_by_key ON jobs (limit_key, queue, run_at)
    WHERE state IN ('scheduled', 'available') AND limit_key IS NOT NULL;

-- One row per stored limit, by scope ('key': the jobs whose limit_key is name;
-- 'queue': every job of the queue name): at most max_running jobs holding a live
-- lease, at most rate_starts claims in any window of rate_per microseconds; either or
-- both (NULL: no such bound).
CREATE TABLE limits (
    scope       TEXT    NOT NULL CHECK (scope IN ('key', 'queue')),
    name        TEXT    NOT NULL,
    max_running INTEGER CHECK (max_running >= 1),
    rate_starts INTEGER CHECK (rate_starts >= 1),
    rate_per    INTEGER CHECK (rate_per >= 1),
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (scope, name),
    CHECK (max_running IS NOT NULL OR rate_starts IS NOT NULL),
    CHECK ((rate_starts IS NULL) = (rate_per IS NULL))
) STRICT;

-- The claims a rate counted: one row per claimed job of a scope whose limit has a
-- rate, at the claim's time. Only the latest rate_starts rows of a scope are kept (a
-- window holding more allows nothing either way, and when the window opens is the
-- rate_starts-th latest plus rate_per). Removing a limit removes its rows; replacing
-- it keeps them.
CREATE TABLE limit_starts (
    scope TEXT    NOT NULL,
    name  TEXT    NOT NULL,
    at    INTEGER NOT NULL
) STRICT;

CREATE INDEX limit_starts_by_scope ON limit_starts (scope, name, at);

-- Every claim counts its start: a claim is the one write that raises lease_token, and
-- it sets attempted_at to its time. For a job whose key or queue has a rate, one row
-- per such scope, then that scope's rows beyond its latest rate_starts are deleted
-- (by time, then insertion). A trigger, so that the claim stays one statement, in one
-- transaction, whichever jobs it takes.
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
        ORDER BY at DESC, rowid DESC
        LIMIT -1 OFFSET coalesce((SELECT rate_starts FROM limits
                                  WHERE scope = 'key' AND name = NEW.limit_key),
                                 9223372036854775807)
    );
    DELETE FROM limit_starts
    WHERE rowid IN (
        SELECT rowid FROM limit_starts
        WHERE scope = 'queue' AND name = NEW.queue
        ORDER BY at DESC, rowid DESC
        LIMIT -1 OFFSET coalesce((SELECT rate_starts FROM limits
                                  WHERE scope = 'queue' AND name = NEW.queue),
                                 9223372036854775807)
    );
END;
