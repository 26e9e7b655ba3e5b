-- Ends job $1 Completed at $3 with output $4 (JSON text), if $2 is its live lease.
UPDATE {schema}.jobs
SET state = 'completed',
    finished_at = $3,
    output = $4::json,
    lease_until = NULL
WHERE id = $1 AND state = 'running' AND lease_token = $2
