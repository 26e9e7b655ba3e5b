-- The finished job holding unique key ?1 in one of the stored states of the JSON array
-- ?3 that finished after ?2: of several, the one that finished last (then the
-- greatest id).
SELECT id, kind, queue, payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at,
       first_attempted_at, attempted_at, errors, output, tags, metadata, limit_key,
          depends_on, on_dependency_failure
FROM jobs
WHERE unique_key = ?1
  AND state IN ('completed', 'failed', 'cancelled')
  AND state IN (SELECT value FROM json_each(?3))
  AND finished_at > ?2
ORDER BY finished_at DESC, id DESC
LIMIT 1
