-- Runs job $1 again at $2, unless it is running: pending and due at $2, no lease, not
-- finished, with one more attempt when it spent them all (parts/run_again.sql); its
-- error history, last error and output stay. When another pending or running job holds
-- its unique key, the jobs_unique_key index refuses the row and the statement fails.
UPDATE {schema}.jobs
SET run_at = $2,
    {run_again}
WHERE id = $1 AND state NOT IN ('running', 'waiting')
RETURNING id, kind, queue, payload::text AS payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at, first_attempted_at, attempted_at, errors::text AS errors, output::text AS output, tags::text AS tags, metadata::text AS metadata, limit_key, depends_on::text AS depends_on, on_dependency_failure
