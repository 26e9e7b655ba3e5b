-- Changes pending job ?1: run_at to ?2, priority to ?3, queue to ?4 (NULL: leaves it
-- as it is); available when due at ?5, else scheduled. A job that is not pending is
-- left as it is.
UPDATE jobs
SET run_at = coalesce(?2, run_at),
    priority = coalesce(?3, priority),
    queue = coalesce(?4, queue),
    state = CASE WHEN coalesce(?2, run_at) <= ?5 THEN 'available' ELSE 'scheduled' END
WHERE id = ?1 AND state IN ('scheduled', 'available')
RETURNING id, kind, queue, payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at,
          first_attempted_at, attempted_at, errors, output, tags, metadata, limit_key,
          depends_on, on_dependency_failure
