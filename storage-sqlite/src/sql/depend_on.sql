-- Marks the jobs of the JSON array ?1 (ids as hex) as depended on, so that their end
-- settles their dependents; answers the id and stored state of each that exists.
UPDATE jobs
SET has_dependents = 1
WHERE id IN (SELECT unhex(value) FROM json_each(?1))
RETURNING id, state
