-- The earliest pending run_at or running lease_until of the queues in the JSON array
-- ?1 that are not paused, or NULL.
SELECT min(due) FROM (
    SELECT min(run_at) AS due FROM jobs
    WHERE state = 'scheduled' AND queue IN (SELECT value FROM json_each(?1)
                    WHERE value NOT IN (SELECT name FROM queues WHERE paused = 1))
    UNION ALL
    SELECT min(run_at) AS due FROM jobs
    WHERE state = 'available' AND queue IN (SELECT value FROM json_each(?1)
                    WHERE value NOT IN (SELECT name FROM queues WHERE paused = 1))
    UNION ALL
    SELECT min(lease_until) AS due FROM jobs
    WHERE state = 'running' AND queue IN (SELECT value FROM json_each(?1)
                    WHERE value NOT IN (SELECT name FROM queues WHERE paused = 1))
)
