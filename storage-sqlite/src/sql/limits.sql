-- Every stored limit, by scope ('key' sorts before 'queue'), then name in byte order
-- (SQLite's BINARY collation, as Rust orders strings).
SELECT scope, name, max_running, rate_starts, rate_per
FROM limits
ORDER BY scope, name
