-- Changes pending job $1: its run_at to $2, its priority to $3, its queue to $4, each
-- only when given (NULL: left as it is).
UPDATE {schema}.jobs
SET run_at = COALESCE($2::bigint, run_at),
    priority = COALESCE($3::smallint, priority),
    queue = COALESCE($4::text, queue)
WHERE id = $1 AND state = 'pending'
RETURNING id, kind, queue, payload::text AS payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at, first_attempted_at, attempted_at, errors::text AS errors, output::text AS output, tags::text AS tags, metadata::text AS metadata, limit_key, depends_on::text AS depends_on, on_dependency_failure
