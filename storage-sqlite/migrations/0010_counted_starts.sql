-- Starts counted per claim, not per job: a row of limit_starts says how many
-- starts (`starts`) a scope's rate counted at one time, so a claim of 64 jobs over 16
-- keys writes 17 rows (16 keys and the queue), once each, where the trigger of 0007
-- wrote two per job and ran six statements per job to do it. The claim statement no
-- longer counts: the store counts the claim's starts by scope with count_starts.sql,
-- in the claim's transaction (a claim sent whole in one call first checks that no
-- rate is stored: claim_rate_guard.sql). Every existing row is one start.
ALTER TABLE limit_starts ADD COLUMN starts INTEGER NOT NULL DEFAULT 1 CHECK (starts >= 1);

DROP TRIGGER jobs_claim_counts_starts;

-- rate_counted is the sum of a scope's starts.
DROP TRIGGER limit_starts_counted_in;

CREATE TRIGGER limit_starts_counted_in
AFTER INSERT ON limit_starts
BEGIN
    UPDATE limits SET rate_counted = rate_counted + NEW.starts
    WHERE scope = NEW.scope AND name = NEW.name;
END;

DROP TRIGGER limit_starts_counted_out;

CREATE TRIGGER limit_starts_counted_out
AFTER DELETE ON limit_starts
BEGIN
    UPDATE limits SET rate_counted = rate_counted - OLD.starts
    WHERE scope = OLD.scope AND name = OLD.name;
END;

CREATE TRIGGER limit_starts_recounted
AFTER UPDATE OF starts ON limit_starts
BEGIN
    UPDATE limits SET rate_counted = rate_counted + NEW.starts - OLD.starts
    WHERE scope = NEW.scope AND name = NEW.name;
END;

-- A scope keeps at most rate_starts starts, its latest (a window holding more allows
-- nothing either way, and a full rate opens when its oldest kept start, then its
-- rate_starts-th latest, leaves the window: next_due.sql). Whenever a scope counts
-- more, by a claim's starts or by a lowered rate, its oldest are trimmed, exactly: the
-- oldest rows whose starts lie wholly in the excess go, and the next one keeps the
-- part of its starts that is not. Read from the old end of the index: at most as many
-- rows as the excess has starts, never the rows kept. (A trigger runs once at a time:
-- the updates of rate_counted that its own writes make do not fire it again.)
DROP TRIGGER limits_lowered_trims_starts;

CREATE TRIGGER limits_over_rate_trims_starts
AFTER UPDATE OF rate_starts, rate_counted ON limits
WHEN NEW.rate_counted > NEW.rate_starts
BEGIN
    DELETE FROM limit_starts
    WHERE rowid IN (
        SELECT id FROM (
            SELECT id, sum(starts) OVER (ORDER BY at, id) AS through
            FROM (SELECT rowid AS id, at, starts FROM limit_starts
                  WHERE scope = NEW.scope AND name = NEW.name
                  ORDER BY at, rowid
                  LIMIT NEW.rate_counted - NEW.rate_starts)
        )
        WHERE through <= NEW.rate_counted - NEW.rate_starts
    );
    UPDATE limit_starts
    SET starts = starts - (SELECT rate_counted - rate_starts FROM limits
                           WHERE scope = NEW.scope AND name = NEW.name)
    WHERE rowid = (SELECT rowid FROM limit_starts
                   WHERE scope = NEW.scope AND name = NEW.name
                   ORDER BY at, rowid
                   LIMIT 1)
      AND (SELECT rate_counted - rate_starts FROM limits
           WHERE scope = NEW.scope AND name = NEW.name) > 0;
END;
