-- Leases up to ?3 due available jobs of queue ?1 (run_at <= ?2) to worker ?5 until ?4,
-- in priority, run_at, id order; a paused queue yields nothing. The claim as
-- claim_queue.sql makes it when no limit is stored and no lease of the queue has
-- expired, which claim_simple_guard.sql checks first in the same call
-- (`CLAIM_QUEUE_SIMPLE_IN_ONE_CALL`): without that statement's arms for limits and
-- expired leases, which cost a claim of 64 jobs about a fifth of its steps even when
-- they take nothing. Its rows are claim_queue.sql's.
-- The jobs are chosen and updated by rowid, which jobs_ready holds beside each entry:
-- by id, SQLite found each chosen job's row through the primary key's own index first
-- (about 2.4k instructions a job of a claim of 128).
UPDATE jobs
{claim_lease}
WHERE rowid IN (
    SELECT rowid FROM jobs
    WHERE state = 'available' AND queue = ?1 AND run_at <= ?2
      AND NOT EXISTS (SELECT 1 FROM queues WHERE name = ?1 AND paused = 1)
    ORDER BY priority, run_at, id
    -- Not a bare ?3: SQLite would plan this statement for the value bound and
    -- prepare it again at every claim.
    LIMIT ?3 + 0
)
{claim_returning}
