-- Ends Completed each job $1[i] whose live lease is $2[i], at $3[i] (the completions
-- concurrent callers made, in one statement); returns the leases it ended.
-- `locked` first locks the waiting dependents of those jobs in id order: the row
-- trigger that settles them (jobs_ended_with_dependents) then finds them locked, and
-- two processes whose completions release dependents of each other's jobs (the members
-- of the same batches) lock them in one order and never deadlock.
-- The dependents are looked up by key: their ids first (the primary key of
-- job_dependencies), then those jobs (jobs' primary key); as a semi-join the planner
-- could read every job for the waiting ones (on a table without statistics it did).
WITH locked AS (
    SELECT d.id FROM {schema}.jobs AS d
    WHERE d.id = ANY (ARRAY(SELECT e.dependent FROM {schema}.job_dependencies AS e
                            WHERE e.dependency = ANY ($1::uuid[])))
      AND d.state = 'waiting'
    ORDER BY d.id
    FOR UPDATE
)
UPDATE {schema}.jobs AS j
SET state = 'completed',
    finished_at = c.finished_at,
    lease_until = NULL
FROM UNNEST($1::uuid[], $2::bigint[], $3::bigint[]) AS c (id, token, finished_at)
WHERE j.id = c.id AND j.state = 'running' AND j.lease_token = c.token
  AND (SELECT count(*) FROM locked) >= 0
RETURNING j.id, j.lease_token
