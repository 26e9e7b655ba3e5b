-- As claim_queue.sql, for the queues in the array $1 (no longer one ordered index
-- range: the due rows of all the queues are sorted, up to $3 of them).
WITH failed AS (
    UPDATE {schema}.jobs
    SET state = 'failed',
        last_error = 'lease expired',
        finished_at = $2,
        lease_until = NULL
    WHERE id IN (
        SELECT id FROM {schema}.jobs
        WHERE state = 'running' AND queue = ANY($1) AND lease_until <= $2
          AND attempt >= max_attempts
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id
), ready AS (
    SELECT id, priority, run_at FROM {schema}.jobs
    WHERE state = 'pending' AND queue = ANY($1) AND run_at <= $2
    ORDER BY priority, run_at, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
), expired AS (
    SELECT id, priority, run_at FROM {schema}.jobs
    WHERE state = 'running' AND queue = ANY($1) AND lease_until <= $2
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
    worker = $5
FROM picked
WHERE j.id = picked.id
RETURNING j.id, j.kind, j.queue, j.payload::text AS payload, j.priority, j.state, j.run_at, j.attempt, j.max_attempts, j.lease_token, j.lease_until, j.worker, j.unique_key, j.last_error, j.created_at, j.finished_at
