-- delete_jobs.sql for a filter with a finished-before time $7 (what retention runs):
-- the jobs that finished before $7 and match $1 to $6 ($5 the time given), those that
-- finished first first, then by id, at most $8. The terminal states and the range on
-- finished_at are top-level terms, so the walk reads jobs_finished from its old end
-- and stops after $8 rows, however many jobs are kept. The rows are locked in that
-- order (waiting for a write in flight on one), and each is checked again once
-- locked. A job a waiting job depends on is passed over.
DELETE FROM {schema}.jobs
WHERE id IN (
    SELECT id FROM {schema}.jobs
    WHERE state IN ('completed', 'failed', 'cancelled')
      AND finished_at < $7
      AND ($1::text IS NULL OR queue = $1)
      AND ($2::text IS NULL OR kind = $2)
      AND ($3::text IS NULL OR state = $3)
      AND ($4::boolean IS NULL OR (run_at <= $5) = $4)
      AND ($6::text IS NULL OR tags ? $6)
      AND {not_waited_on}
    ORDER BY finished_at, id
    LIMIT $8
    FOR UPDATE
)
