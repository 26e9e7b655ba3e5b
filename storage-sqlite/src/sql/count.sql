-- How many jobs match; the parameters are those of list.sql without the limit.
SELECT count(*)
FROM jobs
WHERE (?1 IS NULL OR queue = ?1)
  AND (?2 IS NULL OR kind = ?2)
  AND (?3 IS NULL OR state = ?3
       OR (?3 = 'pending' AND state IN ('scheduled', 'available')))
  AND (?4 IS NULL OR (run_at <= ?5) = ?4)
  AND (?6 IS NULL OR EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE value = ?6))
  AND (?7 IS NULL OR finished_at < ?7)
