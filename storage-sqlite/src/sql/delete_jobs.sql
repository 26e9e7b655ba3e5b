-- Deletes the jobs list.sql selects with the same ?1 to ?8 (?5 the time given) that
-- are not running, lowest ids first.
DELETE FROM jobs
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
