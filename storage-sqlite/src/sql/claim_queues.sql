-- As claim_queue.sql, for the queues in the JSON array ?1 that are not paused (?2 the
-- claim's instant, ?3 its limit, ?6 its `limited`). Rows of several queues come out of
-- the index queue by queue, so this one sorts the due rows; workers claim one queue at
-- a time and take claim_queue.sql.
WITH RECURSIVE
wanted(name) AS (
    SELECT value FROM json_each(?1)
    WHERE value NOT IN (SELECT name FROM queues WHERE paused = 1)
),
head(id, priority, run_at, queue, limit_key) AS (
    SELECT id, priority, run_at, queue, limit_key FROM jobs
    WHERE state = 'available' AND queue IN (SELECT name FROM wanted) AND run_at <= ?2
    UNION ALL
    SELECT id, priority, run_at, queue, limit_key FROM jobs
    WHERE state = 'running' AND queue IN (SELECT name FROM wanted) AND lease_until <= ?2
      AND attempt < max_attempts
    ORDER BY priority, run_at, id
    LIMIT ?3 + 0
),
{claim_governed},
-- The queues whose jobs no limit governs the arms below claim from: wanted, not
-- limited, and none when head is the claim already, so that the arms then read no
-- job (as a condition on each job, SQLite read every due job to find it false).
plain(name) AS (
    SELECT name FROM wanted
    WHERE name NOT IN (SELECT name FROM limits WHERE scope = 'queue')
      AND NOT (SELECT ok FROM fast)
)
{claim_cuts}
    SELECT id, priority, run_at FROM jobs
    WHERE state = 'available' AND run_at <= ?2
      AND queue IN (SELECT name FROM plain)
      AND (limit_key IS NULL
           OR limit_key NOT IN (SELECT name FROM limits WHERE scope = 'key'))
    UNION ALL
    SELECT id, priority, run_at FROM jobs
    WHERE state = 'running' AND lease_until <= ?2 AND attempt < max_attempts
      AND queue IN (SELECT name FROM plain)
      AND (limit_key IS NULL
           OR limit_key NOT IN (SELECT name FROM limits WHERE scope = 'key'))
{claim_end}
