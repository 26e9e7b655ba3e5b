-- Ends Completed every job of the JSON array ?1, each [id as hex, lease token,
-- finished_at], whose lease is live and that no job depends on; answers the ids it
-- completed. A job with dependents completes on its own (complete.sql), so that a group
-- sent as one call never has dependents to settle.
-- jsonb_each hands each row over as binary JSON, which `->>` reads in place: json_each
-- rendered it as text, parsed again by every `->>`.
UPDATE jobs
SET state = 'completed',
    finished_at = done.value ->> 2,
    lease_until = NULL
FROM jsonb_each(?1) AS done
WHERE jobs.id = unhex(done.value ->> 0)
  AND jobs.state = 'running'
  AND jobs.lease_token = done.value ->> 1
  AND jobs.has_dependents = 0
RETURNING jobs.id
