-- Leases up to $3 jobs of queue $1 to worker $5 until $4, in one statement (nothing
-- while an operator has paused the queue):
-- - `failed` ends Failed at $2 the expired leases ($1, lease_until <= $2) on their last
--   attempt, with the error "lease expired", appended to their error history (which
--   keeps the latest $6 entries);
-- - `ready` takes due pending jobs (run_at <= $2) and `expired` the expired leases with
--   attempts left, each in priority, run_at, id order (`ready` straight from the
--   jobs_ready index), skipping rows another claim has locked, so concurrent claims
--   never wait for each other and never take the same row;
-- - `picked` keeps the first $3 of both, and the UPDATE leases them: the attempt and
--   the fencing token go up by one, attempted_at is $2, and so is first_attempted_at
--   on a job's first claim.
-- FOR UPDATE re-checks each locked row against the WHERE clause as it stands once
-- locked, so a row another claim took after this statement began is never taken again.
WITH failed AS (
    UPDATE {schema}.jobs
    SET state = 'failed',
        last_error = 'lease expired',
        errors = (
            SELECT jsonb_agg(h.entry ORDER BY h.n)
            FROM jsonb_array_elements(errors || jsonb_build_array(jsonb_build_object(
                     'attempt', attempt, 'at', $2::bigint, 'error', 'lease expired')))
                 WITH ORDINALITY AS h (entry, n)
            WHERE h.n > jsonb_array_length(errors) + 1 - $6
        ),
        finished_at = $2,
        lease_until = NULL
    WHERE id IN (
        SELECT id FROM {schema}.jobs
        WHERE state = 'running' AND queue = $1
          AND NOT EXISTS (SELECT FROM {schema}.queues WHERE name = $1 AND paused)
          AND lease_until <= $2
          AND attempt >= max_attempts
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id
), ready AS (
    SELECT id, priority, run_at FROM {schema}.jobs
    WHERE state = 'pending' AND queue = $1
      AND NOT EXISTS (SELECT FROM {schema}.queues WHERE name = $1 AND paused)
          AND run_at <= $2
    ORDER BY priority, run_at, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
), expired AS (
    SELECT id, priority, run_at FROM {schema}.jobs
    WHERE state = 'running' AND queue = $1
      AND NOT EXISTS (SELECT FROM {schema}.queues WHERE name = $1 AND paused)
          AND lease_until <= $2
      AND attempt < max_attempts
    ORDER BY priority, run_at, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
), picked AS (
    SELECT id FROM (
        SELECT id, priority, run_at FROM ready
        UNION ALL
        SELECT id, priority, run_at FROM expired
    ) AS due
    ORDER BY priority, run_at, id
    LIMIT $3
)
UPDATE {schema}.jobs AS j
SET state = 'running',
    attempt = j.attempt + 1,
    lease_token = j.lease_token + 1,
    lease_until = $4,
    worker = $5,
    attempted_at = $2,
    first_attempted_at = COALESCE(j.first_attempted_at, $2)
FROM picked
WHERE j.id = picked.id
RETURNING j.id, j.kind, j.queue, j.payload::text AS payload, j.priority, j.state, j.run_at, j.attempt, j.max_attempts, j.lease_token, j.lease_until, j.worker, j.unique_key, j.last_error, j.created_at, j.finished_at, j.first_attempted_at, j.attempted_at, j.errors::text AS errors, j.output::text AS output, j.tags::text AS tags, j.metadata::text AS metadata
