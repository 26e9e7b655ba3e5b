-- Jobs by filter (parts/filter.sql: $1 to $7), in id order; $8 limit (NULL: none).
SELECT id, kind, queue, payload::text AS payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at, first_attempted_at, attempted_at, errors::text AS errors, output::text AS output, tags::text AS tags, metadata::text AS metadata
FROM {schema}.jobs
WHERE {filter}
ORDER BY id
LIMIT $8
