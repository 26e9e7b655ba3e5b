-- Jobs by filter, in id order. ?1 queue, ?2 kind, ?3 stored state ('pending': scheduled
-- or available; NULL: any); ?4 = 1 only due rows (run_at <= ?5), 0 only later ones,
-- NULL either; ?6 limit (NULL: none).
SELECT id, kind, queue, payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at
FROM jobs
WHERE (?1 IS NULL OR queue = ?1)
  AND (?2 IS NULL OR kind = ?2)
  AND (?3 IS NULL OR state = ?3
       OR (?3 = 'pending' AND state IN ('scheduled', 'available')))
  AND (?4 IS NULL OR (run_at <= ?5) = ?4)
ORDER BY id
LIMIT coalesce(?6, -1)
