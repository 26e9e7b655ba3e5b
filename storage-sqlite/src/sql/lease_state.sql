-- The stored state and lease token of job ?1.
SELECT state, lease_token
FROM jobs
WHERE id = ?1
