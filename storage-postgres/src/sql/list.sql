-- Jobs by filter (parts/filter.sql: $1 to $7), in id order; $8 limit (NULL: none);
-- $9 only ids after it (the page cursor; NULL: from the first).
SELECT id, kind, queue, payload::text AS payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at, first_attempted_at, attempted_at, errors::text AS errors, output::text AS output, tags::text AS tags, metadata::text AS metadata, limit_key, depends_on::text AS depends_on, on_dependency_failure
FROM {schema}.jobs
WHERE {filter}
  AND ($9::uuid IS NULL OR id > $9)
ORDER BY id
LIMIT $8
