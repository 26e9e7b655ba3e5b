-- Gives job $1 back under live lease $2: pending at $3, its attempt returned. The
-- lease token stays, so the released lease never matches again.
UPDATE {schema}.jobs
SET state = 'pending',
    run_at = $3,
    attempt = attempt - 1,
    lease_until = NULL
WHERE id = $1 AND state = 'running' AND lease_token = $2
