-- The job with id $1, its row locked until the transaction ends: a verb by hand reads
-- the job's state, then changes it, with no write in between.
SELECT id, kind, queue, payload::text AS payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at, first_attempted_at, attempted_at, errors::text AS errors, output::text AS output, tags::text AS tags, metadata::text AS metadata, limit_key, depends_on::text AS depends_on, on_dependency_failure
FROM {schema}.jobs
WHERE id = $1
FOR UPDATE
