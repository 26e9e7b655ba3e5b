-- The non-terminal job holding unique key ?1.
SELECT id, kind, queue, payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at,
       first_attempted_at, attempted_at, errors, output, tags, metadata, limit_key,
          depends_on, on_dependency_failure
FROM jobs
WHERE unique_key = ?1
  AND (state = 'waiting' OR state = 'scheduled' OR state = 'available' OR state = 'running')
