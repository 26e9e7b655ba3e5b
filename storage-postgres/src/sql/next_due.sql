-- The earliest pending run_at or running lease_until of the queues in the array $1
-- that are not paused, or NULL (LEAST ignores a NULL side).
SELECT LEAST(
    (SELECT min(run_at) FROM {schema}.jobs
     WHERE state = 'pending' AND queue = ANY($1)
       AND queue <> ALL (ARRAY(SELECT name FROM {schema}.queues WHERE paused))),
    (SELECT min(lease_until) FROM {schema}.jobs
     WHERE state = 'running' AND queue = ANY($1)
       AND queue <> ALL (ARRAY(SELECT name FROM {schema}.queues WHERE paused)))
)
