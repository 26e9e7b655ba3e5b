-- The earliest time a claim of the queues in the array $1 that are not paused could
-- take a job, or NULL (LEAST and GREATEST ignore a NULL side): the earliest running
-- lease_until, and the earliest pending run_at, but, while limits are stored, a pending
-- job counts no earlier than its key's limit and its queue's limit open (`opens`, NULL
-- for a limit that is not full as far as the stored state tells): a full rate opens
-- when its rate_starts-th latest start leaves the window (that start plus rate_per), a
-- full max_running (as many running jobs, live leases or not) at the earliest lease
-- expiry of the scope's running jobs, the later of the two when both are full. Without
-- limits the plain plan runs (CASE evaluates one branch).
SELECT CASE
    WHEN NOT EXISTS (SELECT FROM {schema}.limits) THEN LEAST(
        (SELECT min(run_at) FROM {schema}.jobs
         WHERE state = 'pending' AND queue = ANY($1)
           AND queue <> ALL (ARRAY(SELECT name FROM {schema}.queues WHERE paused))),
        (SELECT min(lease_until) FROM {schema}.jobs
         WHERE state = 'running' AND queue = ANY($1)
           AND queue <> ALL (ARRAY(SELECT name FROM {schema}.queues WHERE paused)))
    )
    ELSE (
        WITH opens AS (
            SELECT l.scope, l.name, GREATEST(
                CASE
                    WHEN l.max_running IS NULL THEN NULL
                    WHEN l.scope = 'key' THEN (
                        SELECT CASE WHEN count(*) >= l.max_running THEN min(r.lease_until) END
                        FROM {schema}.jobs AS r
                        WHERE r.state = 'running' AND r.limit_key = l.name)
                    ELSE (
                        SELECT CASE WHEN count(*) >= l.max_running THEN min(r.lease_until) END
                        FROM {schema}.jobs AS r
                        WHERE r.state = 'running' AND r.queue = l.name)
                END,
                CASE
                    WHEN l.rate_starts IS NULL OR l.rate_counted < l.rate_starts THEN NULL
                    -- The rate_starts-th latest start, read from the old end past
                    -- the rate_counted - rate_starts older ones: the first row (a
                    -- row a claim's starts at one time) the starts through which
                    -- pass them.
                    ELSE (
                        SELECT o.at + l.rate_per
                        FROM (
                            SELECT s.at,
                                   sum(s.starts) OVER (ORDER BY s.at, s.ctid
                                                       ROWS UNBOUNDED PRECEDING) AS through
                            FROM {schema}.limit_starts AS s
                            WHERE s.scope = l.scope AND s.name = l.name
                            ORDER BY s.at, s.ctid
                            LIMIT l.rate_counted - l.rate_starts + 1
                        ) AS o
                        WHERE o.through > l.rate_counted - l.rate_starts
                        ORDER BY o.at
                        LIMIT 1)
                END
            ) AS opens
            FROM {schema}.limits AS l
        )
        SELECT LEAST(
            (SELECT min(GREATEST(j.run_at, k.opens, q.opens))
             FROM {schema}.jobs AS j
             LEFT JOIN opens AS k ON k.scope = 'key' AND k.name = j.limit_key
             LEFT JOIN opens AS q ON q.scope = 'queue' AND q.name = j.queue
             WHERE j.state = 'pending' AND j.queue = ANY($1)
               AND j.queue <> ALL (ARRAY(SELECT name FROM {schema}.queues WHERE paused))),
            (SELECT min(lease_until) FROM {schema}.jobs
             WHERE state = 'running' AND queue = ANY($1)
               AND queue <> ALL (ARRAY(SELECT name FROM {schema}.queues WHERE paused)))
        )
    )
END
