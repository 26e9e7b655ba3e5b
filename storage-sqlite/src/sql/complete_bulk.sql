-- Ends Completed every job of the JSON array ?1, each [id as hex, lease token,
-- finished_at], whose lease is live; answers the ids it completed.
UPDATE jobs
SET state = 'completed',
    finished_at = done.value ->> 2,
    lease_until = NULL
FROM json_each(?1) AS done
WHERE jobs.id = unhex(done.value ->> 0)
  AND jobs.state = 'running'
  AND jobs.lease_token = done.value ->> 1
RETURNING jobs.id
