-- Ends job $1 Completed at $3, if $2 is its live lease.
UPDATE {schema}.jobs
SET state = 'completed',
    finished_at = $3,
    lease_until = NULL
WHERE id = $1 AND state = 'running' AND lease_token = $2
