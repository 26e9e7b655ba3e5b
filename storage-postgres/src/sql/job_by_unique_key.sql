-- The job that holds unique key $1: the non-terminal one, or else, with a unique
-- period (its start $2; NULL: none), the one that ended last (by finished_at, then id)
-- in one of the unique states $3 (a JSON array of stored state names) after $2. Each
-- side reads its partial index.
SELECT id, kind, queue, payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at, first_attempted_at, attempted_at, errors, output, tags, metadata, limit_key, depends_on, on_dependency_failure
FROM (
    (SELECT 0 AS rank, id, kind, queue, payload::text AS payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at, first_attempted_at, attempted_at, errors::text AS errors, output::text AS output, tags::text AS tags, metadata::text AS metadata, limit_key, depends_on::text AS depends_on, on_dependency_failure
     FROM {schema}.jobs
     WHERE unique_key = $1 AND state IN ('waiting', 'pending', 'running'))
    UNION ALL
    (SELECT 1 AS rank, id, kind, queue, payload::text AS payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at, first_attempted_at, attempted_at, errors::text AS errors, output::text AS output, tags::text AS tags, metadata::text AS metadata, limit_key, depends_on::text AS depends_on, on_dependency_failure
     FROM {schema}.jobs
     WHERE $2::bigint IS NOT NULL AND unique_key = $1
       AND state IN ('completed', 'failed', 'cancelled')
       AND finished_at > $2
       AND $3::jsonb ? state
     ORDER BY finished_at DESC, id DESC
     LIMIT 1)
) AS holder
ORDER BY rank
LIMIT 1
