-- The filter of the CTE `selected` (parts/selected_jobs.sql) as one statement for
-- every filter (count.sql and list.sql write theirs per filter: filter.rs). ?1 queue, ?2 kind,
-- ?3 stored state ('pending': scheduled or available; NULL: any); ?4 = 1 only due rows
-- (run_at <= ?5), 0 only later ones, NULL either; ?6 a tag the job carries (a whole
-- element of its tags); ?7 only jobs finished before it. A NULL filter selects any.
(?1 IS NULL OR queue = ?1)
AND (?2 IS NULL OR kind = ?2)
AND (?3 IS NULL OR state = ?3
     OR (?3 = 'pending' AND state IN ('scheduled', 'available')))
AND (?4 IS NULL OR (run_at <= ?5) = ?4)
AND (?6 IS NULL OR EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE value = ?6))
AND (?7 IS NULL OR finished_at < ?7)
