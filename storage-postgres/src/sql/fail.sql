-- Ends job $1 Failed at $4 with error $3, if $2 is its live lease. The error joins the
-- job's history as {attempt, at: $4, error}, which keeps the latest $5 entries (the
-- oldest go): parts/error_history.sql, given them as `failure`.
UPDATE {schema}.jobs
SET state = 'failed',
    last_error = $3,
    errors = {error_history},
    finished_at = $4,
    lease_until = NULL
FROM (SELECT $3::text AS error, $4::bigint AS at, $5::bigint AS kept) AS failure
WHERE id = $1 AND state = 'running' AND lease_token = $2
