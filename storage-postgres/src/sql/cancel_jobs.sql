-- Cancels at $5, as cancel.sql does, the pending and running jobs the filter selects,
-- lowest ids first, at most $8 of them (NULL: all). The filter is list.sql's: $1 queue,
-- $2 kind, $3 stored state, $4 due test against $5, $6 tag, $7 finished before. The
-- rows are locked in id order (waiting for a write in flight on one), and each is
-- checked again once locked.
UPDATE {schema}.jobs
SET state = 'cancelled',
    finished_at = $5,
    lease_until = NULL
WHERE id IN (
    SELECT id FROM {schema}.jobs
    WHERE ($1::text IS NULL OR queue = $1)
      AND ($2::text IS NULL OR kind = $2)
      AND ($3::text IS NULL OR state = $3)
      AND ($4::boolean IS NULL OR (run_at <= $5) = $4)
      AND ($6::text IS NULL OR tags ? $6)
      AND ($7::bigint IS NULL OR finished_at < $7)
      AND state IN ('pending', 'running')
    ORDER BY CASE WHEN $7::bigint IS NULL THEN NULL ELSE finished_at END, id
    LIMIT $8
    FOR UPDATE
)
