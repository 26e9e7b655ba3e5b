-- The earliest time a job of the queues in the JSON array ?1 that are not paused may
-- be claimed, or NULL: a pending job's run_at, but no earlier than its key's and its
-- queue's limits open when they are full; a running job's lease_until.
--
-- A limit opens, as far as the stored rows tell without a clock: for a rate whose
-- scope counted rate_starts starts, when the rate_starts-th latest leaves the window
-- (its time plus rate_per); for a max_running that many running jobs of the scope
-- reach (live leases or not), at the earliest lease expiry among them; the later of
-- the two when both are full. A limit that is not full holds nothing back.
WITH
wanted(name) AS (
    SELECT value FROM json_each(?1)
    WHERE value NOT IN (SELECT name FROM queues WHERE paused = 1)
),
running_opens(scope, name, at) AS (
    SELECT scope, name, (SELECT min(lease_until) FROM jobs
                         WHERE state = 'running' AND limit_key = limits.name)
    FROM limits
    WHERE scope = 'key'
      AND max_running <= (SELECT count(*) FROM jobs
                          WHERE state = 'running' AND limit_key = limits.name)
    UNION ALL
    SELECT scope, name, (SELECT min(lease_until) FROM jobs
                         WHERE state = 'running' AND queue = limits.name)
    FROM limits
    WHERE scope = 'queue'
      AND max_running <= (SELECT count(*) FROM jobs
                          WHERE state = 'running' AND queue = limits.name)
),
-- A scope keeps at most rate_starts starts (the claim trims to them, and so does
-- lowering a rate), so a full rate's rate_starts-th latest is its oldest.
rate_opens(scope, name, at) AS (
    SELECT scope, name,
           (SELECT min(at) FROM limit_starts
            WHERE limit_starts.scope = limits.scope AND limit_starts.name = limits.name)
           + rate_per
    FROM limits
    WHERE rate_starts <= rate_counted
),
-- Every full limit, and when it opens.
opens(scope, name, at) AS (
    SELECT scope, name, max(at)
    FROM (SELECT scope, name, at FROM running_opens
          UNION ALL
          SELECT scope, name, at FROM rate_opens)
    GROUP BY scope, name
)
SELECT min(due) FROM (
    SELECT max(pending.run_at, coalesce(opens.at, pending.run_at)) AS due
    FROM (
        -- Each queue's earliest pending job whose key is not full.
        SELECT wanted.name AS queue,
               (SELECT run_at FROM jobs
                WHERE state = 'scheduled' AND queue = wanted.name
                  AND (limit_key IS NULL
                       OR limit_key NOT IN (SELECT name FROM opens WHERE scope = 'key'))
                ORDER BY run_at
                LIMIT 1) AS run_at
        FROM wanted
        UNION ALL
        SELECT wanted.name,
               (SELECT min(run_at) FROM jobs
                WHERE state = 'available' AND queue = wanted.name
                  AND (limit_key IS NULL
                       OR limit_key NOT IN (SELECT name FROM opens WHERE scope = 'key')))
        FROM wanted
        UNION ALL
        -- Each full key's earliest pending job of each queue, once the key opens: its
        -- scheduled jobs (jobs_scheduled_by_key), then its available ones
        -- (jobs_ready_by_key, which carries the queue).
        SELECT job.queue, max(min(job.run_at), opens.at)
        FROM opens
        JOIN jobs AS job
          ON job.limit_key = opens.name AND job.state = 'scheduled'
         AND job.queue IN (SELECT name FROM wanted)
        WHERE opens.scope = 'key'
        GROUP BY opens.name, job.queue
        UNION ALL
        SELECT job.queue, max(min(job.run_at), opens.at)
        FROM opens
        JOIN jobs AS job
          ON job.limit_key = opens.name AND job.state = 'available'
         AND job.queue IN (SELECT name FROM wanted)
        WHERE opens.scope = 'key'
        GROUP BY opens.name, job.queue
    ) AS pending
    LEFT JOIN opens ON opens.scope = 'queue' AND opens.name = pending.queue
    WHERE pending.run_at IS NOT NULL
    UNION ALL
    SELECT min(lease_until) FROM jobs
    WHERE state = 'running' AND queue IN (SELECT name FROM wanted)
)
