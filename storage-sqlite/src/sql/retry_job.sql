-- Runs job ?1 again at ?2 unless it is running: pending and due at ?2, no lease, not
-- finished, with one more attempt when it spent them all. Its error history, last
-- error and output stay. A unique key that another pending or running job holds
-- makes it fail (a unique violation).
UPDATE jobs
SET state = 'available',
    run_at = ?2,
    lease_until = NULL,
    finished_at = NULL,
    max_attempts = max(max_attempts, attempt + 1)
WHERE id = ?1 AND state <> 'running'
RETURNING id, kind, queue, payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at,
          first_attempted_at, attempted_at, errors, output, tags, metadata
