-- The jobs a claim of queue ?1 at ?2 takes, their ids: up to ?3 due available jobs
-- (run_at <= ?2) and expired leases with attempts left (lease_until <= ?2), in
-- priority, run_at, id order, within the stored limits: at most ?6 of them governed
-- by a limit (parts/claim_governed.sql). A queue an operator paused yields nothing
-- (the NOT EXISTS is evaluated once per statement). The full claim chooses them into
-- temp.leasehold_claimed, then leases them (claim_chosen.sql) and counts their starts
-- (count_starts.sql), in the same call (`sql::CLAIM_QUEUE_STEPS`).
--
-- With limits stored, `head` (the first ?3 claimable jobs, limits aside) is the claim
-- when no limit would turn one of them away (`fast`, parts/claim_governed.sql): limits
-- that are open cost a count each. Otherwise the two arms of jobs no limit governs (no
-- limited key, the queue not limited) read their partial index in claim order, so the
-- merge stops after ?3 rows; they pass over a limited key's jobs (one row each), never
-- sort them. The third arm, the jobs a limit governs, is walked
-- (parts/claim_governed.sql) and sorted: at most what the limits allow. With no limit
-- stored it is empty, and the claim reads what it did before limits.
WITH RECURSIVE
wanted(name) AS (
    SELECT ?1 WHERE NOT EXISTS (SELECT 1 FROM queues WHERE name = ?1 AND paused = 1)
),
head(id, priority, run_at, queue, limit_key) AS (
    SELECT id, priority, run_at, queue, limit_key FROM jobs
    WHERE state = 'available' AND queue = ?1 AND run_at <= ?2
      AND queue IN (SELECT name FROM wanted)
    UNION ALL
    SELECT id, priority, run_at, queue, limit_key FROM jobs
    WHERE state = 'running' AND queue = ?1 AND lease_until <= ?2
      AND attempt < max_attempts AND queue IN (SELECT name FROM wanted)
    ORDER BY priority, run_at, id
    LIMIT ?3 + 0
),
{claim_governed},
-- Whether the arms of jobs no limit governs claim at all: the queue is wanted (not
-- paused) and not limited, and head is not the claim already. A row the arms join
-- first (CROSS JOIN keeps that order), so that when it says no they read no job:
-- as a condition on each job, SQLite read the queue's every due job to find it
-- false, 10,000 of them on the bench's limited claim.
plain(ok) AS (
    SELECT NOT (SELECT ok FROM fast)
       AND NOT EXISTS (SELECT 1 FROM limits WHERE scope = 'queue' AND name = ?1)
       AND EXISTS (SELECT 1 FROM wanted)
)
{claim_cuts}
    SELECT id, priority, run_at FROM plain CROSS JOIN jobs
    WHERE plain.ok AND state = 'available' AND queue = ?1 AND run_at <= ?2
      AND (limit_key IS NULL
           OR limit_key NOT IN (SELECT name FROM limits WHERE scope = 'key'))
    UNION ALL
    SELECT id, priority, run_at FROM plain CROSS JOIN jobs
    WHERE plain.ok AND state = 'running' AND queue = ?1 AND lease_until <= ?2
      AND attempt < max_attempts
      AND (limit_key IS NULL
           OR limit_key NOT IN (SELECT name FROM limits WHERE scope = 'key'))
{claim_end}
