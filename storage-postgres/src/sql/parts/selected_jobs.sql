-- The CTE `selected`: the jobs a filter selects that a bulk verb acts on, written once
-- and put at the head of retry_jobs.sql, update_jobs.sql, cancel_jobs.sql and
-- delete_jobs.sql (see sql.rs). $1 to $7 the filter (parts/filter.sql); $8 at most
-- this many (NULL: all); $9 the stored states the verb acts on; then what
-- else a verb passes over (retry and delete: a job a waiting job depends on). The lowest ids come
-- first, or, with $7, the jobs that finished first. The rows are locked in that order
-- (waiting for a write in flight on one), and each is checked again once locked.
WITH selected AS (
    SELECT id FROM {schema}.jobs
    WHERE state = ANY($9::text[])
      AND {filter}{spared}
    ORDER BY CASE WHEN $7::bigint IS NULL THEN NULL ELSE finished_at END, id
    LIMIT $8
    FOR UPDATE
)
