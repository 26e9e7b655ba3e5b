-- Every queue with a stored job or a row in queues: how many of its jobs are in each
-- state as of ?1 (a pending job is scheduled while its run_at is after ?1, available
-- from then on; waiting, the last column, counts jobs waiting for dependencies), the
-- earliest run_at of its pending jobs (NULL: none), and whether it is paused (a queue
-- without a row is not). The stored states of a pending job are a
-- placeholder each store fills in: 'pending' on PostgreSQL, 'scheduled' and
-- 'available' on SQLite. One pass over the jobs: for an
-- operator's dashboard, not a hot path. Each store's queue_stats.sql follows this with
-- the order of names.name, byte order in both (as Rust orders strings).
WITH counts AS (
    SELECT queue,
           count(*) FILTER (WHERE state IN ({pending_states})
                                  AND run_at > ?1) AS scheduled,
           count(*) FILTER (WHERE state IN ({pending_states})
                                  AND run_at <= ?1) AS available,
           count(*) FILTER (WHERE state = 'running') AS running,
           count(*) FILTER (WHERE state = 'completed') AS completed,
           count(*) FILTER (WHERE state = 'failed') AS failed,
           count(*) FILTER (WHERE state = 'cancelled') AS cancelled,
           min(run_at) FILTER (WHERE state IN ({pending_states}))
               AS oldest_pending_run_at,
           count(*) FILTER (WHERE state = 'waiting') AS waiting
    FROM {schema}.jobs
    GROUP BY queue
),
names AS (
    SELECT queue AS name FROM counts
    UNION
    SELECT name FROM {schema}.queues
)
SELECT names.name AS queue,
       coalesce(queues.paused, FALSE) AS paused,
       coalesce(counts.scheduled, 0) AS scheduled,
       coalesce(counts.available, 0) AS available,
       coalesce(counts.running, 0) AS running,
       coalesce(counts.completed, 0) AS completed,
       coalesce(counts.failed, 0) AS failed,
       coalesce(counts.cancelled, 0) AS cancelled,
       counts.oldest_pending_run_at,
       coalesce(counts.waiting, 0) AS waiting
FROM names
LEFT JOIN counts ON counts.queue = names.name
LEFT JOIN {schema}.queues ON queues.name = names.name
