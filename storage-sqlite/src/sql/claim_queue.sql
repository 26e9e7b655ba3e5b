-- Leases up to ?3 jobs of queue ?1 to worker ?5 until ?4: due available jobs
-- (run_at <= ?2) and expired leases with attempts left (lease_until <= ?2), in
-- priority, run_at, id order. Each arm reads its partial index in that order, so the
-- merge stops after ?3 rows. A queue an operator paused yields nothing (the NOT EXISTS
-- is evaluated once per statement). Each claimed job is attempted at ?2, first
-- attempted then if it never was.
UPDATE jobs
{claim_lease}
WHERE id IN (
    SELECT id FROM (
        SELECT id, priority, run_at FROM jobs
        WHERE state = 'available' AND queue = ?1 AND run_at <= ?2
          AND NOT EXISTS (SELECT 1 FROM queues WHERE name = ?1 AND paused = 1)
        UNION ALL
        SELECT id, priority, run_at FROM jobs
        WHERE state = 'running' AND queue = ?1 AND lease_until <= ?2
          AND attempt < max_attempts
          AND NOT EXISTS (SELECT 1 FROM queues WHERE name = ?1 AND paused = 1)
        ORDER BY priority, run_at, id
        LIMIT ?3
    )
)
RETURNING id, kind, queue, payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at,
          first_attempted_at, attempted_at, errors, output, tags, metadata
