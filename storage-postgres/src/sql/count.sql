-- How many jobs match; the parameters are those of list.sql without the limit.
SELECT count(*)
FROM {schema}.jobs
WHERE ($1::text IS NULL OR queue = $1)
  AND ($2::text IS NULL OR kind = $2)
  AND ($3::text IS NULL OR state = $3)
  AND ($4::boolean IS NULL OR (run_at <= $5) = $4)
  AND ($6::text IS NULL OR tags ? $6)
  AND ($7::bigint IS NULL OR finished_at < $7)
