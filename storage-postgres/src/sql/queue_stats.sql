-- Every queue with a stored job, a row in queues or a limit, by name (in byte order, as
-- Rust orders strings): its jobs counted by state as of $1, its earliest pending
-- run_at and its pause, as queue_stats.sql of leasehold-sql counts them, and its limit
-- (NULL columns: none).
SELECT COALESCE(s.queue, l.name) AS queue,
       COALESCE(s.paused, FALSE) AS paused,
       COALESCE(s.scheduled, 0) AS scheduled,
       COALESCE(s.available, 0) AS available,
       COALESCE(s.running, 0) AS running,
       COALESCE(s.completed, 0) AS completed,
       COALESCE(s.failed, 0) AS failed,
       COALESCE(s.cancelled, 0) AS cancelled,
       s.oldest_pending_run_at,
       COALESCE(s.waiting, 0) AS waiting,
       l.max_running,
       l.rate_starts,
       l.rate_per
FROM (
{queue_stats}
) AS s
FULL JOIN (
    SELECT name, max_running, rate_starts, rate_per FROM {schema}.limits
    WHERE scope = 'queue'
) AS l ON l.name = s.queue
ORDER BY COALESCE(s.queue, l.name) COLLATE "C"
