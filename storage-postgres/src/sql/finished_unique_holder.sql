-- The job that ended last (by finished_at, then id) holding unique key $1 in one of
-- the unique states $3 (a JSON array of stored state names) after the unique period's
-- start $2. An enqueue with a unique period asks it again, in a statement of its own,
-- after it inserted: the insert's own snapshot may have seen the holder still running
-- while its completion committed, and then the holder blocks the key after all.
SELECT id, kind, queue, payload::text AS payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at, first_attempted_at, attempted_at, errors::text AS errors, output::text AS output, tags::text AS tags, metadata::text AS metadata, limit_key, depends_on::text AS depends_on, on_dependency_failure
FROM {schema}.jobs
WHERE unique_key = $1
  AND state IN ('completed', 'failed', 'cancelled')
  AND finished_at > $2
  AND $3::jsonb ? state
ORDER BY finished_at DESC, id DESC
LIMIT 1
