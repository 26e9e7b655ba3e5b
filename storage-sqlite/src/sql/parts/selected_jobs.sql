-- The CTE `selected`: the jobs a filter selects that a bulk verb acts on, written once
-- and joined in front of retry_jobs.sql, update_jobs.sql, cancel_jobs.sql and
-- delete_jobs.sql (see sql.rs). ?1 queue, ?2 kind, ?3 stored state ('pending':
-- scheduled or available; NULL: any); ?4 = 1 only due rows (run_at <= ?5), 0 only
-- later ones, NULL either; ?6 a tag the job carries; ?7 only jobs finished before it;
-- ?8 at most this many (NULL: all); ?9 the stored states the verb acts on (a JSON
-- array). The lowest ids come first, or, with ?7, the jobs that finished first.
WITH selected AS (
    SELECT id FROM jobs
    WHERE state IN (SELECT value FROM json_each(?9))
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
