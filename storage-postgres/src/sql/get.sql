-- The job with id $1.
SELECT id, kind, queue, payload::text AS payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at, first_attempted_at, attempted_at, errors::text AS errors, output::text AS output, tags::text AS tags, metadata::text AS metadata, limit_key, depends_on::text AS depends_on, on_dependency_failure
FROM {schema}.jobs
WHERE id = $1
