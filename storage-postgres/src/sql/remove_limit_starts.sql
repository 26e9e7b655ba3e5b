-- Deletes the starts counted for scope $1 named $2, after remove_limit.sql deleted its
-- limit in the same transaction: a statement of its own, so it sees the starts of a
-- claim that the delete of the limit waited for.
DELETE FROM {schema}.limit_starts
WHERE scope = $1 AND name = $2
