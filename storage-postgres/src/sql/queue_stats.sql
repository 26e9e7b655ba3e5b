-- Every queue with a stored job or a row in queues, by name (in byte order, as Rust
-- orders strings): its jobs counted by state as of $1, its earliest pending run_at and
-- its pause, as queue_stats.sql of leasehold-sql counts them.
{queue_stats}
ORDER BY names.name COLLATE "C"
