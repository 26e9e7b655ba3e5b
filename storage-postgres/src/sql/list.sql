-- Jobs by filter, in id order. $1 queue, $2 kind, $3 stored state (NULL: any);
-- $4 true only due pending rows (run_at <= $5), false only future ones, NULL either;
-- $6 a tag the job carries, $7 a time before which it finished (NULL: any);
-- $8 limit (NULL: none).
SELECT id, kind, queue, payload::text AS payload, priority, state, run_at, attempt, max_attempts, lease_token, lease_until, worker, unique_key, last_error, created_at, finished_at, first_attempted_at, attempted_at, errors::text AS errors, output::text AS output, tags::text AS tags, metadata::text AS metadata
FROM {schema}.jobs
WHERE ($1::text IS NULL OR queue = $1)
  AND ($2::text IS NULL OR kind = $2)
  AND ($3::text IS NULL OR state = $3)
  AND ($4::boolean IS NULL OR (run_at <= $5) = $4)
  AND ($6::text IS NULL OR tags ? $6)
  AND ($7::bigint IS NULL OR finished_at < $7)
ORDER BY id
LIMIT $8
