-- As claim_queue.sql, for the queues in the JSON array ?1 that are not paused. Rows of
-- several queues come out of the index queue by queue, so this one sorts the due rows; workers claim one
-- queue at a time and take claim_queue.sql.
UPDATE jobs
{claim_lease}
WHERE id IN (
    SELECT id FROM (
        SELECT id, priority, run_at FROM jobs
        WHERE state = 'available' AND queue IN (SELECT value FROM json_each(?1) WHERE value NOT IN (SELECT name FROM queues WHERE paused = 1))
          AND run_at <= ?2
        UNION ALL
        SELECT id, priority, run_at FROM jobs
        WHERE state = 'running' AND queue IN (SELECT value FROM json_each(?1) WHERE value NOT IN (SELECT name FROM queues WHERE paused = 1))
          AND lease_until <= ?2 AND attempt < max_attempts
        ORDER BY priority, run_at, id
        LIMIT ?3
    )
)
RETURNING id, kind, queue, payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at,
          first_attempted_at, attempted_at, errors, output, tags, metadata
