-- Counted rate logs: limits.rate_counted is how many starts limit_starts keeps for the
-- scope (the claim that adds and trims them keeps it), so a claim counts a window by
-- the starts that aged out of it and trims from the old end, never reading the starts
-- it keeps. A migration of its own, not an edit of 0006: a database migrated by an
-- earlier build must upgrade, not be refused.
ALTER TABLE limits ADD COLUMN rate_counted BIGINT NOT NULL DEFAULT 0;

UPDATE limits AS l
SET rate_counted = (SELECT count(*) FROM limit_starts AS s
                    WHERE s.scope = l.scope AND s.name = l.name);
