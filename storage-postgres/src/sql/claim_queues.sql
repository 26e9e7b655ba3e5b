-- As claim_queue.sql, for the distinct queues in the array $1: `ready` reads each
-- queue's first $3 due rows in claim order from jobs_ready (a sort over the whole
-- backlog of several queues would read all of it), and `picked` merges them. Rows
-- locked but not picked are let go when the statement's transaction ends.
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
        WHERE state = 'running' AND queue = ANY($1)
          AND queue <> ALL (ARRAY(SELECT name FROM {schema}.queues WHERE paused))
          AND lease_until <= $2
          AND attempt >= max_attempts
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id
), ready AS (
    SELECT r.id, r.priority, r.run_at
    FROM UNNEST($1::text[]) AS q (queue)
    CROSS JOIN LATERAL (
        SELECT id, priority, run_at FROM {schema}.jobs
        WHERE state = 'pending' AND queue = q.queue AND run_at <= $2
        ORDER BY priority, run_at, id
        LIMIT $3
        FOR UPDATE SKIP LOCKED
    ) AS r
    WHERE q.queue <> ALL (ARRAY(SELECT name FROM {schema}.queues WHERE paused))
), expired AS (
    SELECT id, priority, run_at FROM {schema}.jobs
    WHERE state = 'running' AND queue = ANY($1)
      AND queue <> ALL (ARRAY(SELECT name FROM {schema}.queues WHERE paused))
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
