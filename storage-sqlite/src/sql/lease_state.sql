-- The id, stored state and lease token of job ?1.
SELECT id, state, lease_token
FROM jobs
WHERE id = ?1
