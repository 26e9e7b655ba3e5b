-- Records error $4 on job $1 under live lease $2 and makes it pending at $3; on its
-- last attempt ends it Failed at $5 instead.
UPDATE {schema}.jobs
SET state = CASE WHEN attempt >= max_attempts THEN 'failed' ELSE 'pending' END,
    run_at = CASE WHEN attempt >= max_attempts THEN run_at ELSE $3 END,
    finished_at = CASE WHEN attempt >= max_attempts THEN $5 ELSE NULL END,
    last_error = $4,
    lease_until = NULL
WHERE id = $1 AND state = 'running' AND lease_token = $2
RETURNING state, run_at
