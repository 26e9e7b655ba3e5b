-- retry_job.sql for the jobs list.sql selects with the same ?1 to ?8 (?5 the time
-- given) that are not running, lowest ids first: each pending and due at ?5, with one
-- more attempt when it spent them all. A unique key that another pending or running
-- job holds, or that two of the retried jobs share, fails the whole statement (a
-- unique violation), which then changes nothing.
UPDATE jobs
SET state = 'available',
    run_at = ?5,
    lease_until = NULL,
    finished_at = NULL,
    max_attempts = max(max_attempts, attempt + 1)
WHERE id IN (
    SELECT id FROM jobs
    WHERE state <> 'running'
      AND (?1 IS NULL OR queue = ?1)
      AND (?2 IS NULL OR kind = ?2)
      AND (?3 IS NULL OR state = ?3
           OR (?3 = 'pending' AND state IN ('scheduled', 'available')))
      AND (?4 IS NULL OR (run_at <= ?5) = ?4)
      AND (?6 IS NULL OR EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE value = ?6))
      AND (?7 IS NULL OR finished_at < ?7)
    ORDER BY CASE WHEN ?7 IS NULL THEN NULL ELSE finished_at END, id
    LIMIT coalesce(?8, -1)
)
