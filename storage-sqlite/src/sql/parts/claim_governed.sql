-- The jobs a claim takes that a limit governs (claim_queue.sql, claim_queues.sql): CTEs
-- that follow the statement's own `wanted(name)` (the queues claimed, paused ones left
-- out) and `head(id, priority, run_at, queue, limit_key)` (its first ?3 claimable jobs
-- in claim order, limits aside), and end in `fast(ok)` (head is the claim) and
-- `governed_taken(id, priority, run_at)` (empty when fast). ?2 the claim's instant, ?3
-- its limit, ?6 its `limited`. With no limit stored, every CTE is empty.
--
-- The contract's order: of the claimable jobs in claim order (priority, run_at, id),
-- each limited key keeps its first `room` (what its limit allows at ?2), then each
-- limited queue its first `room` of those, then the first ?6 of those. Jobs no limit
-- governs are the statement's own arms. Walks, not scans: a limited key's due jobs are
-- read one index step per job, in jobs_ready_by_key, only as many as its `cap`, so a
-- key's backlog costs what the claim may take of it, and a full key costs nothing.
--
-- room: the least of max_running minus the live leases (lease_until > ?2) and
-- rate_starts minus the starts counted in (?2 - rate_per, ?2]; a limit has one or both.
-- The starts in the window are the kept ones (rate_counted) less those at or before its
-- start, read from the old end of the index: a count that costs the rows that aged out
-- of the window since they were trimmed, not the rows in it (a row per claim and
-- scope, with its number of starts: migration 0010).
-- cap: how many of a scope's first due jobs can be taken, and so are walked. What
-- follows a queue's cut keeps a prefix of at most min(?3, ?6) jobs, so a queue's cap is
-- min(room, ?3, ?6), and so is a key's while no claimed queue has a limit or one queue
-- is claimed. With a limited queue among several, a key's cap is its room: a job its
-- queue turns away still used its key's room, and the key's next job may be of another
-- queue.
limit_room(scope, name, room) AS (
    SELECT scope, name,
           min(coalesce(max_running - CASE scope
                            WHEN 'key' THEN (SELECT count(*) FROM jobs
                                             WHERE state = 'running' AND limit_key = limits.name
                                               AND lease_until > ?2)
                            ELSE (SELECT count(*) FROM jobs
                                  WHERE state = 'running' AND queue = limits.name
                                    AND lease_until > ?2)
                        END,
                        9223372036854775807),
               coalesce(rate_starts - rate_counted
                        + (SELECT coalesce(sum(starts), 0) FROM limit_starts
                           WHERE limit_starts.scope = limits.scope
                             AND limit_starts.name = limits.name
                             AND at <= ?2 - limits.rate_per),
                        9223372036854775807))
    FROM limits
    WHERE scope = 'key' OR (scope = 'queue' AND name IN (SELECT name FROM wanted))
),
-- The fast path. `head` (the statement's own) is its first ?3 claimable jobs in claim
-- order, limits aside. When no limit would turn one of them away (each limited key and
-- queue has room for as many as head holds of it, and at most ?6 of head are
-- governed), the limits change nothing: head is the claim, and no key or queue is
-- walked below. With no limit stored, head is not read here and the statement's
-- unlimited arms claim. head is counted by key and by queue once (`head_counts`), not
-- once per limit: counting it in a subquery of each limit read head's every row for
-- each, two thirds of a limited claim's steps with 17 limits.
head_counts(scope, name, n) AS (
    SELECT 'key', limit_key, count(*) FROM head
    WHERE limit_key IS NOT NULL AND EXISTS (SELECT 1 FROM limits)
    GROUP BY limit_key
    UNION ALL
    SELECT 'queue', queue, count(*) FROM head
    WHERE EXISTS (SELECT 1 FROM limits)
    GROUP BY queue
),
fast(ok) AS (
    SELECT EXISTS (SELECT 1 FROM limits)
       AND NOT EXISTS (
           SELECT 1 FROM limit_room
           LEFT JOIN head_counts
             ON head_counts.scope = limit_room.scope AND head_counts.name = limit_room.name
           WHERE limit_room.room < coalesce(head_counts.n, 0)
       )
       -- (head holds at most ?3: with ?6 no less, not counted.)
       AND (?6 >= ?3
            OR (SELECT count(*) FROM head
                WHERE limit_key IN (SELECT name FROM limits WHERE scope = 'key')
                   OR queue IN (SELECT name FROM limits WHERE scope = 'queue')) <= ?6)
),
-- The other claim that needs no walk, worked out only when head is not the claim: no
-- limit turns a job of head away, but head holds more than ?6 governed jobs (a worker
-- claiming ahead of its free slots asks for more jobs than ?6), and every queue
-- claimed is limited, so every job is governed: the claim is head's first ?6, and no
-- job after head could join them.
cut(ok) AS (
    SELECT NOT (SELECT ok FROM fast)
       AND EXISTS (SELECT 1 FROM limits)
       AND NOT EXISTS (
           SELECT 1 FROM wanted
           WHERE NOT EXISTS (SELECT 1 FROM limits
                             WHERE scope = 'queue' AND name = wanted.name)
       )
       AND NOT EXISTS (
           SELECT 1 FROM limit_room
           LEFT JOIN head_counts
             ON head_counts.scope = limit_room.scope AND head_counts.name = limit_room.name
           WHERE limit_room.room < coalesce(head_counts.n, 0)
       )
),
-- Otherwise, the walks. Each limit's room.
key_room(name, room) AS (
    SELECT name, room FROM limit_room
    WHERE scope = 'key' AND NOT (SELECT ok FROM fast)
),
queue_room(name, room) AS (
    SELECT name, room FROM limit_room
    WHERE scope = 'queue' AND NOT (SELECT ok FROM fast)
),
key_cap(name, room, cap) AS (
    SELECT name, room,
           CASE WHEN EXISTS (SELECT 1 FROM queue_room) AND (SELECT count(*) FROM wanted) > 1
                THEN room
                ELSE min(room, ?3, ?6)
           END
    FROM key_room
),
-- Each key's due jobs in claim order, from a start before every job (priorities are
-- 16-bit), one step per job, up to its cap. Each step seeks the index past the last
-- job; the unary + drops the affinity of the CTE's columns, which would otherwise
-- keep SQLite from seeking on more than the priority (and a step from scanning the
-- key's jobs of that priority from their first).
key_walk(name, room, cap, step, priority, run_at, id, queue) AS (
    SELECT name, room, cap, 0, -32769, 0, X'', NULL FROM key_cap WHERE cap > 0
    UNION ALL
    SELECT walk.name, walk.room, walk.cap, walk.step + 1, job.priority, job.run_at, job.id,
           job.queue
    FROM key_walk AS walk
    JOIN jobs AS job ON job.id = (
        SELECT next.id FROM jobs AS next
        WHERE next.state = 'available' AND next.limit_key = walk.name
          AND next.run_at <= ?2 AND next.queue IN (SELECT name FROM wanted)
          AND (next.priority, next.run_at, next.id) > (+walk.priority, +walk.run_at, +walk.id)
        ORDER BY next.priority, next.run_at, next.id
        LIMIT 1
    )
    WHERE walk.step < walk.cap
),
-- Of each limited key's walked jobs and expired leases with attempts left (few), its
-- first `room`.
key_kept(id, priority, run_at, queue) AS (
    SELECT id, priority, run_at, queue FROM (
        SELECT id, priority, run_at, queue, room,
               row_number() OVER (PARTITION BY name ORDER BY priority, run_at, id) AS rank
        FROM (
            SELECT name, room, priority, run_at, id, queue FROM key_walk WHERE step > 0
            UNION ALL
            SELECT key_cap.name, key_cap.room, job.priority, job.run_at, job.id, job.queue
            FROM key_cap
            JOIN jobs AS job
              ON job.state = 'running' AND job.limit_key = key_cap.name
             AND job.lease_until <= ?2 AND job.attempt < job.max_attempts
             AND job.queue IN (SELECT name FROM wanted)
            WHERE key_cap.cap > 0
        )
    )
    WHERE rank <= room
),
-- In a claim of one queue, no job after the ?6-th of key_kept (in claim order) can be
-- among the governed jobs the claim takes: the queue's cut and the cut to ?6 keep a
-- prefix of at most ?6 jobs of a set that holds key_kept. So the walk below stops
-- there; without that bound, when the queue's due jobs are mostly of limited keys (a
-- worker claiming ahead of its free slots asks for more jobs than ?6), it read the
-- queue's whole backlog to find none. Past every job (priority 32768) when there is no
-- ?6-th, or several queues are claimed.
walk_bound(priority, run_at, id) AS (
    SELECT coalesce(kept.priority, 32768), coalesce(kept.run_at, 0), coalesce(kept.id, X'')
    FROM (SELECT 1) AS one
    LEFT JOIN (
        SELECT priority, run_at, id FROM key_kept
        WHERE (SELECT count(*) FROM wanted) = 1
        ORDER BY priority, run_at, id
        LIMIT 1 OFFSET ?6 - 1
    ) AS kept
),
-- Each limited queue's due jobs whose key has no limit, the same way, before the bound.
queue_walk(name, cap, step, priority, run_at, id, below_priority, below_run_at, below_id) AS (
    SELECT name, min(room, ?3, ?6), 0, -32769, 0, X'',
           walk_bound.priority, walk_bound.run_at, walk_bound.id
    FROM queue_room CROSS JOIN walk_bound
    WHERE min(room, ?3, ?6) > 0
    UNION ALL
    SELECT walk.name, walk.cap, walk.step + 1, job.priority, job.run_at, job.id,
           walk.below_priority, walk.below_run_at, walk.below_id
    FROM queue_walk AS walk
    JOIN jobs AS job ON job.id = (
        SELECT next.id FROM jobs AS next
        WHERE next.state = 'available' AND next.queue = walk.name AND next.run_at <= ?2
          AND (next.limit_key IS NULL
               OR next.limit_key NOT IN (SELECT name FROM limits WHERE scope = 'key'))
          AND (next.priority, next.run_at, next.id) > (+walk.priority, +walk.run_at, +walk.id)
          AND (next.priority, next.run_at, next.id)
              < (+walk.below_priority, +walk.below_run_at, +walk.below_id)
        ORDER BY next.priority, next.run_at, next.id
        LIMIT 1
    )
    WHERE walk.step < walk.cap
),
-- With the jobs of limited queues whose key has no limit (walked, and expired leases
-- with attempts left), each limited queue's first `room`, then the first ?6.
governed_taken(id, priority, run_at) AS (
    SELECT id, priority, run_at FROM (
        SELECT id, priority, run_at,
               row_number() OVER (ORDER BY priority, run_at, id) AS rank
        FROM (
            SELECT governed.id, governed.priority, governed.run_at, queue_room.room,
                   row_number() OVER (PARTITION BY governed.queue
                                      ORDER BY governed.priority, governed.run_at,
                                               governed.id) AS rank
            FROM (
                SELECT id, priority, run_at, queue FROM key_kept
                UNION ALL
                SELECT id, priority, run_at, name FROM queue_walk WHERE step > 0
                UNION ALL
                SELECT job.id, job.priority, job.run_at, job.queue
                FROM queue_room
                JOIN jobs AS job
                  ON job.state = 'running' AND job.queue = queue_room.name
                 AND job.lease_until <= ?2 AND job.attempt < job.max_attempts
                 AND (job.limit_key IS NULL
                      OR job.limit_key NOT IN (SELECT name FROM limits WHERE scope = 'key'))
                WHERE min(queue_room.room, ?3, ?6) > 0
            ) AS governed
            LEFT JOIN queue_room ON queue_room.name = governed.queue
        )
        WHERE room IS NULL OR rank <= room
    )
    WHERE rank <= ?6
)
