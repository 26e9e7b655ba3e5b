-- Ends job $1 Failed at $4 with error $3, if $2 is its live lease. The error joins the
-- job's history as {attempt, at: $4, error}, which keeps the latest $5 entries (the
-- oldest go).
UPDATE {schema}.jobs
SET state = 'failed',
    last_error = $3,
    errors = (
        SELECT jsonb_agg(h.entry ORDER BY h.n)
        FROM jsonb_array_elements(errors || jsonb_build_array(jsonb_build_object(
                 'attempt', attempt, 'at', $4::bigint, 'error', $3::text)))
             WITH ORDINALITY AS h (entry, n)
        WHERE h.n > jsonb_array_length(errors) + 1 - $5
    ),
    finished_at = $4,
    lease_until = NULL
WHERE id = $1 AND state = 'running' AND lease_token = $2
