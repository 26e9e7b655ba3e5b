-- Marks the jobs of the ids $1 as depended on, so that their end settles their
-- dependents, locking their rows (in id order) until the transaction ends: an end
-- that comes later waits and then sees the dependents, one that came first is what
-- this answers. Answers the id and stored state of each that exists.
UPDATE {schema}.jobs
SET has_dependents = TRUE
WHERE id IN (SELECT id FROM {schema}.jobs WHERE id = ANY($1) ORDER BY id FOR UPDATE)
RETURNING id, state
