-- Ends job ?1 Cancelled at ?2 if it is waiting, pending or running. The lease token stays, so
-- the running worker's heartbeat can be told it was cancelled.
UPDATE jobs
SET state = 'cancelled',
    finished_at = ?2,
    lease_until = NULL
WHERE id = ?1 AND state IN ('waiting', 'scheduled', 'available', 'running')
RETURNING id, kind, queue, payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at,
          first_attempted_at, attempted_at, errors, output, tags, metadata, limit_key,
          depends_on, on_dependency_failure
