-- The claim while limits bear on it: leases up to $3 jobs of the distinct queues in the
-- array $1 at $2 to worker $5 until $4 within every limit, of which at most $6 are jobs
-- a limit governs. It runs in the transaction that locked the limit rows of the keys in
-- the array $7 and of the queues in the array $8 (lock_limits.sql), so no other claim
-- counts or takes against those limits until it ends. $9 is how many entries an error
-- history keeps.
-- - `failed` ends Failed the expired leases of the open queues on their last attempt,
--   as the plain claims do (a store that saw limits bear on its last claim of these
--   queues comes here without a plain claim first).
-- - `open`: the queues claimed from, those not paused; a queue whose limit was stored
--   after the lock (not in $8) is left for the next claim.
-- - `lim`: each locked limit and how many more claims it allows at $2: the least of its
--   max_running less its jobs holding a live lease (lease_until > $2), and its
--   rate_starts less its starts in (($2 - rate_per), $2]: the rate_counted it keeps less
--   those at or before $2 - rate_per, read from the old end of the index (so a count
--   costs the starts that aged out since the last trim, not those in the window). It
--   may be negative after a limit was lowered.
-- - `head`: the first $3 claimable jobs of the open queues in claim order, limits
--   aside. When no limit would turn one of them away (each locked limit allows as
--   many as head holds of its scope, no job of head has a limit this claim did not
--   lock, and at most $6 of head are governed), the limits change nothing: `fast`,
--   head is what is chosen, and no key is walked (`free`, `key_cap` are empty). Open
--   limits, the common case, then cost a count each. Otherwise:
-- - `free`: the claimable jobs (due pending ones, expired leases with attempts left)
--   whose key has no limit, the first $3 of each open queue in claim order (read from
--   jobs_ready and jobs_leased; a later one could not be claimed: $3 jobs of its queue
--   come first, and each stage below keeps a prefix of a queue). A job whose key's
--   limit this claim did not lock (stored after the lock) is left for the next claim.
-- - `keyed`: of each locked key that allows claims, its first claimable jobs in the
--   open queues up to its `cap` (read from jobs_limit_ready and jobs_limit_leased): a
--   full key's backlog is never read. The cap is what the key allows, and no more than
--   $3 and $6 unless a limited queue is among several open ones: each stage below keeps
--   a prefix, so with one queue, or no queue limit, a key's later jobs cannot be
--   chosen; with a limited queue among several, a job its queue turns away still used
--   its key's allowance, and the key's next job may be of another queue.
-- - Then, of both, in claim order: for each limited queue its first up to what it
--   allows (`queued`); of those, the ones a limit governs (a limited key or queue) up
--   to $6 (`capped`); of those the first $3 (`chosen`).
-- - `picked` locks the chosen rows that are still claimable, skipping those another
--   transaction has locked (only the rows leased are locked, not every candidate read),
--   and `leased` leases them (parts/lease_picked.sql).
-- - `counted`, `started`: the leased jobs count their starts at $2, one row per key and
--   per queue whose limit has a rate, with how many (migration 0009); `oldest`,
--   `pruned` and `trimmed` take such a scope's oldest starts beyond, with the new ones,
--   its rate_starts latest, exactly: the rows wholly beyond go, the row the excess
--   ends in keeps its remainder (the statement's data-modifying CTEs share its
--   snapshot: they see only older starts); `recounted` sets its rate_counted to what
--   is left.
-- Answers the leased jobs.
WITH open AS (
    SELECT DISTINCT q.queue
    FROM UNNEST($1::text[]) AS q (queue)
    WHERE NOT EXISTS (SELECT FROM {schema}.queues AS p WHERE p.name = q.queue AND p.paused)
      AND NOT EXISTS (
          SELECT FROM {schema}.limits AS l
          WHERE l.scope = 'queue' AND l.name = q.queue AND l.name <> ALL ($8::text[])
      )
), failed AS (
    UPDATE {schema}.jobs
    {expire_last_attempt_limited}
    WHERE id IN (
        SELECT id FROM {schema}.jobs
        WHERE state = 'running' AND queue IN (SELECT queue FROM open)
          AND lease_until <= $2
          AND attempt >= max_attempts
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id
), lim AS (
    SELECT l.scope, l.name, l.rate_starts, l.rate_counted,
           LEAST(
               CASE
                   WHEN l.max_running IS NULL THEN NULL
                   WHEN l.scope = 'key' THEN l.max_running - (
                       SELECT count(*) FROM {schema}.jobs AS r
                       WHERE r.state = 'running' AND r.limit_key = l.name
                         AND r.lease_until > $2)
                   ELSE l.max_running - (
                       SELECT count(*) FROM {schema}.jobs AS r
                       WHERE r.state = 'running' AND r.queue = l.name
                         AND r.lease_until > $2)
               END,
               CASE
                   WHEN l.rate_starts IS NULL THEN NULL
                   ELSE l.rate_starts - l.rate_counted + (
                       SELECT COALESCE(sum(s.starts), 0) FROM {schema}.limit_starts AS s
                       WHERE s.scope = l.scope AND s.name = l.name
                         AND s.at <= $2 - l.rate_per)
               END
           ) AS allows
    FROM {schema}.limits AS l
    WHERE (l.scope = 'key' AND l.name = ANY ($7::text[]))
       OR (l.scope = 'queue' AND l.name = ANY ($8::text[]))
), head AS (
    SELECT c.id, c.queue, c.limit_key, c.priority, c.run_at
    FROM (
        SELECT r.* FROM open AS o
        CROSS JOIN LATERAL (
            SELECT id, queue, limit_key, priority, run_at FROM {schema}.jobs AS j
            WHERE j.state = 'pending' AND j.queue = o.queue AND j.run_at <= $2
            ORDER BY priority, run_at, id
            LIMIT $3
        ) AS r
        UNION ALL
        SELECT r.* FROM open AS o
        CROSS JOIN LATERAL (
            SELECT id, queue, limit_key, priority, run_at FROM {schema}.jobs AS j
            WHERE j.state = 'running' AND j.queue = o.queue AND j.lease_until <= $2
              AND j.attempt < j.max_attempts
            ORDER BY priority, run_at, id
            LIMIT $3
        ) AS r
    ) AS c
    ORDER BY c.priority, c.run_at, c.id
    LIMIT $3
), held AS (
    SELECT 'key' AS scope, limit_key AS name, count(*) AS n
    FROM head WHERE limit_key IS NOT NULL GROUP BY limit_key
    UNION ALL
    SELECT 'queue', queue, count(*) FROM head GROUP BY queue
), fast AS (
    SELECT NOT EXISTS (
               SELECT FROM lim AS l JOIN held AS h ON h.scope = l.scope AND h.name = l.name
               WHERE l.allows < h.n
           )
           AND NOT EXISTS (
               SELECT FROM held AS h
               WHERE h.scope = 'key' AND h.name <> ALL ($7::text[])
                 AND EXISTS (SELECT FROM {schema}.limits AS l
                             WHERE l.scope = 'key' AND l.name = h.name)
           )
           AND (SELECT count(*) FROM head AS h
                WHERE h.limit_key = ANY ($7::text[]) OR h.queue = ANY ($8::text[])) <= $6
               AS ok
), free AS (
    SELECT r.id, r.queue, r.priority, r.run_at
    FROM open AS o
    CROSS JOIN LATERAL (
        SELECT id, queue, priority, run_at FROM {schema}.jobs AS j
        WHERE j.state = 'pending' AND j.queue = o.queue AND j.run_at <= $2
          AND (j.limit_key IS NULL OR NOT EXISTS (
              SELECT FROM {schema}.limits AS l
              WHERE l.scope = 'key' AND l.name = j.limit_key))
        ORDER BY priority, run_at, id
        LIMIT $3
    ) AS r
    WHERE NOT (SELECT ok FROM fast)
    UNION ALL
    SELECT r.id, r.queue, r.priority, r.run_at
    FROM open AS o
    CROSS JOIN LATERAL (
        SELECT id, queue, priority, run_at FROM {schema}.jobs AS j
        WHERE j.state = 'running' AND j.queue = o.queue AND j.lease_until <= $2
          AND j.attempt < j.max_attempts
          AND (j.limit_key IS NULL OR NOT EXISTS (
              SELECT FROM {schema}.limits AS l
              WHERE l.scope = 'key' AND l.name = j.limit_key))
        ORDER BY priority, run_at, id
        LIMIT $3
    ) AS r
    WHERE NOT (SELECT ok FROM fast)
), key_cap AS (
    SELECT k.name,
           CASE
               WHEN (SELECT count(*) FROM open) > 1
                    AND EXISTS (SELECT FROM lim AS q
                                WHERE q.scope = 'queue' AND q.name IN (SELECT queue FROM open))
                   THEN GREATEST(k.allows, 0)
               ELSE GREATEST(LEAST(k.allows, $3, $6), 0)
           END AS cap
    FROM lim AS k
    WHERE k.scope = 'key' AND k.allows > 0 AND NOT (SELECT ok FROM fast)
), keyed AS (
    SELECT r.id, r.queue, r.priority, r.run_at
    FROM key_cap AS k
    CROSS JOIN LATERAL (
        SELECT c.id, c.queue, c.priority, c.run_at
        FROM (
            SELECT * FROM (
                SELECT id, queue, priority, run_at FROM {schema}.jobs AS j
                WHERE j.state = 'pending' AND j.limit_key = k.name AND j.run_at <= $2
                  AND j.queue = ANY (ARRAY(SELECT queue FROM open))
                ORDER BY priority, run_at, id
                LIMIT k.cap
            ) AS p
            UNION ALL
            SELECT * FROM (
                SELECT id, queue, priority, run_at FROM {schema}.jobs AS j
                WHERE j.state = 'running' AND j.limit_key = k.name AND j.lease_until <= $2
                  AND j.attempt < j.max_attempts
                  AND j.queue = ANY (ARRAY(SELECT queue FROM open))
                ORDER BY priority, run_at, id
                LIMIT k.cap
            ) AS e
        ) AS c
        ORDER BY c.priority, c.run_at, c.id
        LIMIT k.cap
    ) AS r
), queued AS (
    SELECT c.id, c.priority, c.run_at, c.keyed, q.allows AS queue_allows,
           row_number() OVER (PARTITION BY c.queue ORDER BY c.priority, c.run_at, c.id)
               AS queue_rank
    FROM (
        SELECT id, queue, priority, run_at, FALSE AS keyed FROM free
        UNION ALL
        SELECT id, queue, priority, run_at, TRUE AS keyed FROM keyed
    ) AS c
    LEFT JOIN lim AS q ON q.scope = 'queue' AND q.name = c.queue
), capped AS (
    SELECT id, priority, run_at, governed,
           count(*) FILTER (WHERE governed) OVER (ORDER BY priority, run_at, id)
               AS governed_rank
    FROM (
        SELECT id, priority, run_at, keyed OR queue_allows IS NOT NULL AS governed
        FROM queued
        WHERE queue_allows IS NULL OR queue_rank <= queue_allows
    ) AS g
), chosen AS (
    (SELECT id FROM capped
     WHERE NOT governed OR governed_rank <= $6
     ORDER BY priority, run_at, id
     LIMIT $3)
    UNION ALL
    SELECT id FROM head WHERE (SELECT ok FROM fast)
), picked AS (
    -- Each chosen row looked up by its key, whatever the planner's statistics say
    -- (stale ones once made it read every ready job and join them to the chosen).
    SELECT j.id FROM chosen AS c
    CROSS JOIN LATERAL (
        SELECT id FROM {schema}.jobs
        WHERE id = c.id AND queue = ANY ($1::text[])
          AND ((state = 'pending' AND run_at <= $2)
               OR (state = 'running' AND lease_until <= $2 AND attempt < max_attempts))
        FOR UPDATE SKIP LOCKED
    ) AS j
), leased AS (
    {lease_picked}
), counted AS (
    SELECT l.scope, l.name, l.rate_starts, l.rate_counted, count(*) AS claimed
    FROM (SELECT 'key' AS scope, limit_key AS name FROM leased
          UNION ALL
          SELECT 'queue', queue FROM leased) AS x
    JOIN lim AS l ON l.scope = x.scope AND l.name = x.name
    WHERE l.rate_starts IS NOT NULL
    GROUP BY l.scope, l.name, l.rate_starts, l.rate_counted
), started AS (
    INSERT INTO {schema}.limit_starts (scope, name, at, starts)
    SELECT c.scope, c.name, $2, c.claimed
    FROM counted AS c
), oldest AS (
    -- Each rated scope's oldest rows, as many as its excess has starts at most (a row
    -- holds at least one), with the starts up to and including each (`through`).
    SELECT o.row_id, c.scope, c.name, o.starts,
           sum(o.starts) OVER (PARTITION BY c.scope, c.name ORDER BY o.at, o.row_id
                               ROWS UNBOUNDED PRECEDING) AS through,
           c.rate_counted + c.claimed - c.rate_starts AS excess
    FROM counted AS c
    CROSS JOIN LATERAL (
        SELECT t.ctid AS row_id, t.at, t.starts FROM {schema}.limit_starts AS t
        WHERE t.scope = c.scope AND t.name = c.name
        ORDER BY t.at, t.ctid
        LIMIT GREATEST(c.rate_counted + c.claimed - c.rate_starts, 0)
    ) AS o
), pruned AS (
    -- The rows whose starts lie wholly in the excess.
    DELETE FROM {schema}.limit_starts AS s
    WHERE s.ctid IN (SELECT row_id FROM oldest WHERE through <= excess)
    RETURNING s.scope, s.name, s.starts
), trimmed AS (
    -- The row the excess ends in keeps the part of its starts beyond it.
    UPDATE {schema}.limit_starts AS s
    SET starts = o.through - o.excess
    FROM oldest AS o
    WHERE s.ctid = o.row_id AND o.through > o.excess AND o.through - o.starts < o.excess
    RETURNING o.scope, o.name, o.starts - (o.through - o.excess) AS removed
), recounted AS (
    UPDATE {schema}.limits AS l
    SET rate_counted = l.rate_counted + c.claimed
        - (SELECT COALESCE(sum(p.starts), 0) FROM pruned AS p
           WHERE p.scope = c.scope AND p.name = c.name)
        - (SELECT COALESCE(sum(t.removed), 0) FROM trimmed AS t
           WHERE t.scope = c.scope AND t.name = c.name)
    FROM counted AS c
    WHERE l.scope = c.scope AND l.name = c.name
)
SELECT * FROM leased
