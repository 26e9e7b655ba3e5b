-- The end of claim_queue.sql and claim_queues.sql: `due` keeps the first $3 of
-- `ready` and `expired` (locked); `limit_check` tells whether a stored limit bears on
-- them: a limit of the queue or of the key of one of them. If none does, the limits
-- change nothing (the claim within the limits would take the same jobs: its `fast`
-- path), and `picked` is `due`; otherwise nothing is picked, and the store claims
-- again with claim_limited.sql, under the limits' locks. The check reads limits by
-- key for at most $3 rows, whatever the number of limits or the size of the backlog.
-- `leased` leases what was picked (parts/lease_picked.sql); the answer is a row per
-- leased job, or one row of NULL job columns when none was, each with `limited`.
due AS (
    SELECT id, queue, limit_key FROM (
        SELECT id, queue, limit_key, priority, run_at FROM ready
        UNION ALL
        SELECT id, queue, limit_key, priority, run_at FROM expired
    ) AS due
    ORDER BY priority, run_at, id
    LIMIT $3
), limit_check AS (
    -- With no limit stored (the common case), one probe.
    SELECT EXISTS (SELECT FROM {schema}.limits)
       AND (EXISTS (
               SELECT FROM due
               JOIN {schema}.limits AS l ON l.scope = 'key' AND l.name = due.limit_key
           )
           OR EXISTS (
               SELECT FROM due
               JOIN {schema}.limits AS l ON l.scope = 'queue' AND l.name = due.queue
           )) AS limited
), picked AS (
    SELECT id FROM due WHERE NOT (SELECT limited FROM limit_check)
), leased AS (
    {lease_picked}
)
SELECT limit_check.limited, leased.*
FROM limit_check
LEFT JOIN leased ON TRUE
