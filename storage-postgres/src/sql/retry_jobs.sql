{selected_sparing_waited_on}
-- Runs again at $5, as retry_job.sql does (parts/run_again.sql), the jobs `selected`
-- ($9: the states but running and waiting; a job a waiting job depends on
-- is passed over). When a job it would run again shares its unique key
-- with a pending or running job (one held already, or another job it runs again), the
-- jobs_unique_key index refuses the row and the whole statement fails.
UPDATE {schema}.jobs
SET run_at = $5,
    {run_again}
WHERE id IN (SELECT id FROM selected)
