-- As claim_queue.sql, for the distinct queues in the array $1: `ready` reads each
-- queue's first $3 due rows in claim order from jobs_ready (a sort over the whole
-- backlog of several queues would read all of it), and `picked` merges them. Rows
-- locked but not picked are let go when the statement's transaction ends.
WITH failed AS (
    UPDATE {schema}.jobs
    {expire_last_attempt}
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
    SELECT r.id, r.queue, r.limit_key, r.priority, r.run_at
    FROM UNNEST($1::text[]) AS q (queue)
    CROSS JOIN LATERAL (
        SELECT id, queue, limit_key, priority, run_at FROM {schema}.jobs
        WHERE state = 'pending' AND queue = q.queue AND run_at <= $2
        {claim_order}
    ) AS r
    WHERE q.queue <> ALL (ARRAY(SELECT name FROM {schema}.queues WHERE paused))
), expired AS (
    SELECT id, queue, limit_key, priority, run_at FROM {schema}.jobs
    WHERE state = 'running' AND queue = ANY($1)
      AND queue <> ALL (ARRAY(SELECT name FROM {schema}.queues WHERE paused))
      AND lease_until <= $2
      AND attempt < max_attempts
    {claim_order}
), {pick_due}
