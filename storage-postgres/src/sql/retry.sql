-- Records error $4 on job $1 under live lease $2 and makes it pending at $3; on its
-- last attempt ends it Failed at $5 instead. The error joins the job's history as
-- {attempt, at: $5, error}, which keeps the latest $6 entries (the oldest go).
UPDATE {schema}.jobs
SET state = CASE WHEN attempt >= max_attempts THEN 'failed' ELSE 'pending' END,
    run_at = CASE WHEN attempt >= max_attempts THEN run_at ELSE $3 END,
    finished_at = CASE WHEN attempt >= max_attempts THEN $5 ELSE NULL END,
    last_error = $4,
    errors = (
        SELECT jsonb_agg(h.entry ORDER BY h.n)
        FROM jsonb_array_elements(errors || jsonb_build_array(jsonb_build_object(
                 'attempt', attempt, 'at', $5::bigint, 'error', $4::text)))
             WITH ORDINALITY AS h (entry, n)
        WHERE h.n > jsonb_array_length(errors) + 1 - $6
    ),
    lease_until = NULL
WHERE id = $1 AND state = 'running' AND lease_token = $2
RETURNING state, run_at
