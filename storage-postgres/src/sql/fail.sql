-- Ends job $1 Failed at $4 with error $3, if $2 is its live lease.
UPDATE {schema}.jobs
SET state = 'failed',
    last_error = $3,
    finished_at = $4,
    lease_until = NULL
WHERE id = $1 AND state = 'running' AND lease_token = $2
