-- The CTE `selected`: the jobs a filter selects that a bulk verb acts on, written once
-- and joined in front of retry_jobs.sql, update_jobs.sql, cancel_jobs.sql and
-- delete_jobs.sql (see sql.rs). ?1 to ?7 the filter (parts/filter.sql); ?8 at most this
-- many (NULL: all); ?9 the stored states the verb acts on (a JSON array); then what else
-- a verb passes over (retry and delete: a job a waiting job depends on). The
-- lowest ids come first, or, with ?7, the jobs that finished first.
WITH selected AS (
    SELECT id FROM jobs
    WHERE state IN (SELECT value FROM json_each(?9))
      AND {filter}{spared}
    ORDER BY CASE WHEN ?7 IS NULL THEN NULL ELSE finished_at END, id
    LIMIT coalesce(?8, -1)
)
