-- Stores the limit of scope $1 ('key' or 'queue') named $2 at $6, replacing the one it
-- had: at most $3 running (NULL: no such bound), at most $4 starts per $5 microseconds
-- (both NULL: no rate). A queue must be known: a job of it is stored, it has a row in
-- queues, or a limit already; for an unknown queue it affects no row.
INSERT INTO {schema}.limits (scope, name, max_running, rate_starts, rate_per, updated_at)
SELECT $1::text, $2::text, $3::bigint, $4::bigint, $5::bigint, $6::bigint
WHERE $1::text = 'key'
   OR EXISTS (SELECT FROM {schema}.jobs WHERE queue = $2::text)
   OR EXISTS (SELECT FROM {schema}.queues WHERE name = $2::text)
   OR EXISTS (SELECT FROM {schema}.limits WHERE scope = 'queue' AND name = $2::text)
ON CONFLICT (scope, name) DO UPDATE
SET max_running = excluded.max_running,
    rate_starts = excluded.rate_starts,
    rate_per = excluded.rate_per,
    updated_at = excluded.updated_at
