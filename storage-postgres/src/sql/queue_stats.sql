-- Every queue with a stored job or a row in queues, by name (in byte order, as Rust
-- orders strings): how many of its jobs are in each state as of $1 (a pending job is
-- scheduled while its run_at is after $1, available from then on), its oldest pending
-- run_at, and whether it is paused. One pass over the jobs: for an operator's
-- dashboard, not a hot path.
SELECT COALESCE(c.queue, q.name) AS queue,
       COALESCE(q.paused, FALSE) AS paused,
       COALESCE(c.scheduled, 0) AS scheduled,
       COALESCE(c.available, 0) AS available,
       COALESCE(c.running, 0) AS running,
       COALESCE(c.completed, 0) AS completed,
       COALESCE(c.failed, 0) AS failed,
       COALESCE(c.cancelled, 0) AS cancelled,
       c.oldest_pending_run_at
FROM (
    SELECT queue,
           count(*) FILTER (WHERE state = 'pending' AND run_at > $1) AS scheduled,
           count(*) FILTER (WHERE state = 'pending' AND run_at <= $1) AS available,
           count(*) FILTER (WHERE state = 'running') AS running,
           count(*) FILTER (WHERE state = 'completed') AS completed,
           count(*) FILTER (WHERE state = 'failed') AS failed,
           count(*) FILTER (WHERE state = 'cancelled') AS cancelled,
           min(run_at) FILTER (WHERE state = 'pending') AS oldest_pending_run_at
    FROM {schema}.jobs
    GROUP BY queue
) AS c
FULL JOIN {schema}.queues AS q ON q.name = c.queue
ORDER BY COALESCE(c.queue, q.name) COLLATE "C"
