-- The stored state and lease token of each job of the ids $1 that exists.
SELECT id, state, lease_token
FROM {schema}.jobs
WHERE id = ANY($1)
