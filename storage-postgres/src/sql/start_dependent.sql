-- Starts job $1, inserted waiting, as leasehold_sql::dependency::Start says: in state
-- $2, waiting for $3 of its dependencies $4 (a JSON array of ids, each recorded in
-- job_dependencies), finished at $5 with error $6 when a dependency's end ended it.
WITH started AS (
    UPDATE {schema}.jobs
    SET state = $2,
        waiting_for = $3,
        depends_on = $4::jsonb,
        finished_at = $5,
        last_error = $6
    WHERE id = $1
    RETURNING id
)
INSERT INTO {schema}.job_dependencies (dependency, dependent)
SELECT dependency::uuid, started.id
FROM started, jsonb_array_elements_text($4::jsonb) AS dependency
