-- Every stored limit: keys before queues, each by name in byte order (as Rust orders
-- strings).
SELECT scope, name, max_running, rate_starts, rate_per
FROM {schema}.limits
ORDER BY scope COLLATE "C", name COLLATE "C"
