-- The jobs claim_queue_simple.sql leases (up to ?3 due available jobs of queue ?1 at
-- ?2, in priority, run_at, id order; none of a paused queue), each as that claim
-- answers it once leased, with its rowid first: the claim of the writer's own
-- connection (`crate::direct`), which then leases them by rowid (lease_rows.sql, in
-- the same transaction). An UPDATE's RETURNING computes every row it answers, stores
-- it in a temporary table and reads it back before answering the first: read here,
-- the rows come straight off the table, and a claim costs the writer about 4.8k
-- instructions a job less. The columns the claim writes are as parts/claim_lease.sql
-- writes them; the ones it sets to values it was given (state, queue, lease_until,
-- worker, attempted_at) are left out: `crate::direct` holds them once for all rows.
SELECT rowid, id, kind, payload, priority, run_at, attempt + 1 AS attempt, max_attempts,
       lease_token + 1 AS lease_token, unique_key, last_error, created_at, finished_at,
       coalesce(first_attempted_at, ?2) AS first_attempted_at, errors, output, tags,
       metadata, limit_key, depends_on, on_dependency_failure,
       (SELECT EXISTS (SELECT 1 FROM limits)) AS limited
FROM jobs
WHERE state = 'available' AND queue = ?1 AND run_at <= ?2
  AND NOT EXISTS (SELECT 1 FROM queues WHERE name = ?1 AND paused = 1)
ORDER BY priority, run_at, id
-- Not a bare ?3: SQLite would plan this statement for the value bound and prepare it
-- again at every claim.
LIMIT ?3 + 0
