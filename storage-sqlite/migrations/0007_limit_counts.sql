-- Counted rate logs: each limit row says how many starts limit_starts keeps for it
-- (rate_counted), so a claim counts a window by the starts that aged out of it and
-- trims the log from its old end, never reading the starts it keeps; lowering a rate
-- trims at once. A migration of its own, not an edit of 0006: a database migrated by
-- an earlier build must upgrade, not be refused.
ALTER TABLE limits ADD COLUMN rate_counted INTEGER NOT NULL DEFAULT 0;

UPDATE limits
SET rate_counted = (SELECT count(*) FROM limit_starts
                    WHERE limit_starts.scope = limits.scope
                      AND limit_starts.name = limits.name);

-- Starts a limit no longer has (none should be left: removing a limit removes its
-- starts) would never be counted again.
DELETE FROM limit_starts
WHERE NOT EXISTS (SELECT 1 FROM limits
                  WHERE limits.scope = limit_starts.scope AND limits.name = limit_starts.name);

DROP TRIGGER jobs_claim_counts_starts;

CREATE TRIGGER limit_starts_counted_in
AFTER INSERT ON limit_starts
BEGIN
    UPDATE limits SET rate_counted = rate_counted + 1
    WHERE scope = NEW.scope AND name = NEW.name;
END;

-- Lowering a rate trims the starts beyond the new rate_starts at once (the oldest),
-- so a scope never keeps more: its oldest start is then its rate_starts-th latest,
-- which is when a full rate opens (next_due.sql).
CREATE TRIGGER limits_lowered_trims_starts
AFTER UPDATE OF rate_starts ON limits
WHEN NEW.rate_starts < NEW.rate_counted
BEGIN
    DELETE FROM limit_starts
    WHERE rowid IN (
        SELECT rowid FROM limit_starts
        WHERE scope = NEW.scope AND name = NEW.name
        ORDER BY at, rowid
        LIMIT NEW.rate_counted - NEW.rate_starts
    );
END;

CREATE TRIGGER limit_starts_counted_out
AFTER DELETE ON limit_starts
BEGIN
    UPDATE limits SET rate_counted = rate_counted - 1
    WHERE scope = OLD.scope AND name = OLD.name;
END;

-- Every claim counts its start: a claim is the one write that raises lease_token, and
-- it sets attempted_at to its time. For a job whose key or queue has a rate, one row
-- per such scope, then that scope's oldest rows beyond its latest rate_starts are
-- deleted (by time, then insertion): as many as rate_counted says are too many, read
-- from the old end of the index, so a claim never walks the rows it keeps. A
-- trigger, so that the claim stays one statement, in one transaction, whichever jobs
-- it takes.
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
