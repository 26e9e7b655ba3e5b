-- The CTE `selected`: the jobs a filter selects that a bulk verb acts on, written once
-- and put in place of `{selected}` at the head of retry_jobs.sql, update_jobs.sql,
-- cancel_jobs.sql and delete_jobs.sql (see sql.rs). $1 queue, $2 kind, $3 stored
-- state (NULL: any); $4 true only due pending rows (run_at <= $5), false only future
-- ones, NULL either; $6 a tag the job carries; $7 only jobs finished before it; $8 at
-- most this many (NULL: all); $9 the stored states the verb acts on. The lowest ids
-- come first, or, with $7, the jobs that finished first. The rows are locked in that
-- order (waiting for a write in flight on one), and each is checked again once locked.
WITH selected AS (
    SELECT id FROM {schema}.jobs
    WHERE state = ANY($9::text[])
      AND ($1::text IS NULL OR queue = $1)
      AND ($2::text IS NULL OR kind = $2)
      AND ($3::text IS NULL OR state = $3)
      AND ($4::boolean IS NULL OR (run_at <= $5) = $4)
      AND ($6::text IS NULL OR tags ? $6)
      AND ($7::bigint IS NULL OR finished_at < $7)
    ORDER BY CASE WHEN $7::bigint IS NULL THEN NULL ELSE finished_at END, id
    LIMIT $8
    FOR UPDATE
)
