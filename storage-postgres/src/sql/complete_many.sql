-- Ends Completed each job $1[i] whose live lease is $2[i], at $3[i] (the completions
-- concurrent callers made, in one statement); returns the leases it ended.
UPDATE {schema}.jobs AS j
SET state = 'completed',
    finished_at = c.finished_at,
    lease_until = NULL
FROM UNNEST($1::uuid[], $2::bigint[], $3::bigint[]) AS c (id, token, finished_at)
WHERE j.id = c.id AND j.state = 'running' AND j.lease_token = c.token
RETURNING j.id, j.lease_token
