-- Stores the limit of scope ?1 ('key' or 'queue') named ?2 at ?6: at most ?3 running
-- (NULL: no such bound), at most ?4 starts per ?5 microseconds (both NULL: no rate);
-- replaces the one it had, keeping the starts it counted. A queue must be known: a job
-- of it is stored, or it has a row in queues or a limit already; for an unknown queue
-- it affects no row.
INSERT INTO limits (scope, name, max_running, rate_starts, rate_per, updated_at)
SELECT ?1, ?2, ?3, ?4, ?5, ?6
WHERE ?1 = 'key'
   OR EXISTS (SELECT 1 FROM jobs WHERE queue = ?2)
   OR EXISTS (SELECT 1 FROM queues WHERE name = ?2)
   OR EXISTS (SELECT 1 FROM limits WHERE scope = ?1 AND name = ?2)
ON CONFLICT (scope, name) DO UPDATE
SET max_running = excluded.max_running,
    rate_starts = excluded.rate_starts,
    rate_per = excluded.rate_per,
    updated_at = excluded.updated_at
