-- Runs job ?1 again at ?2 unless it is running or waiting, or a waiting job depends on
-- it (and counts its end): pending and due at ?2, no lease, not
-- finished, with one more attempt when it spent them all (parts/run_again.sql). Its
-- error history, last error and output stay. A unique key that another pending or
-- running job holds makes it fail (a unique violation).
UPDATE jobs
SET run_at = ?2,
    {run_again}
WHERE id = ?1 AND state NOT IN ('running', 'waiting') AND {not_waited_on}
RETURNING id, kind, queue, payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at,
          first_attempted_at, attempted_at, errors, output, tags, metadata, limit_key,
          depends_on, on_dependency_failure
