-- Every queue with a stored job, a row in queues or a limit, by name (in byte order,
-- SQLite's BINARY collation, as Rust orders strings): its jobs counted by state as of
-- ?1, its earliest pending run_at and its pause, as queue_stats.sql of leasehold-sql
-- counts them, and its limit (limit_max_running, limit_rate_starts, limit_rate_per;
-- all NULL: none). A queue known only by its limit has no jobs and is not paused.
WITH stats AS (
    SELECT * FROM (
{queue_stats}
    )
)
SELECT stats.*,
       limits.max_running AS limit_max_running,
       limits.rate_starts AS limit_rate_starts,
       limits.rate_per AS limit_rate_per
FROM stats
LEFT JOIN limits ON limits.scope = 'queue' AND limits.name = stats.queue
UNION ALL
SELECT name, 0, 0, 0, 0, 0, 0, 0, NULL, 0, max_running, rate_starts, rate_per
FROM limits
WHERE scope = 'queue' AND name NOT IN (SELECT queue FROM stats)
ORDER BY queue
