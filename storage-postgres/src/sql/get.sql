-- The job with id $1.
SELECT id, kind, queue, payload::text AS payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at
FROM {schema}.jobs
WHERE id = $1
