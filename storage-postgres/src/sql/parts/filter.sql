-- The filter of list.sql, count.sql and the CTE `selected` (parts/selected_jobs.sql),
-- written once and put where each says WHERE or AND (see sql.rs). $1 queue, $2 kind,
-- $3 stored state (NULL: any); $4 true only due pending rows (run_at <= $5), false
-- only future ones, NULL either; $6 a tag the job carries; $7 only jobs finished
-- before it. A NULL filter selects any.
($1::text IS NULL OR queue = $1)
AND ($2::text IS NULL OR kind = $2)
AND ($3::text IS NULL OR state = $3)
AND ($4::boolean IS NULL OR (run_at <= $5) = $4)
AND ($6::text IS NULL OR tags ? $6)
AND ($7::bigint IS NULL OR finished_at < $7)
