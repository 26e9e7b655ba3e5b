-- Deletes job ?1 unless it is running; answers it as it was.
DELETE FROM jobs
WHERE id = ?1 AND state <> 'running'
RETURNING id, kind, queue, payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at,
          first_attempted_at, attempted_at, errors, output, tags, metadata, limit_key
