-- The end of claim_queue.sql and claim_queues.sql: `picked` keeps the first $3 of
-- `ready` and `expired`, `leased` leases them (parts/lease_picked.sql), and the answer
-- is a row per leased job, or one row of NULL job columns when none was, each with
-- `limited` of `limit_check`.
picked AS (
    SELECT id FROM (
        SELECT id, priority, run_at FROM ready
        UNION ALL
        SELECT id, priority, run_at FROM expired
    ) AS due
    ORDER BY priority, run_at, id
    LIMIT $3
), leased AS (
    {lease_picked}
)
SELECT limit_check.limited, leased.*
FROM limit_check
LEFT JOIN leased ON TRUE
