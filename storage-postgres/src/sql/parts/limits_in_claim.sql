-- Whether limit row `l` bears on a claim at $2 of the claim's queues (an array, filled
-- in per statement, see sql.rs): a limit of one of them, or of a key that a claimable
-- job of them carries (pending and due, or running with its lease over). The plain
-- claims' guard `limit_check` (claim_queue.sql, claim_queues.sql) and the limited
-- claim's lock_limits.sql ask it of every limit row; each side of the key's test reads
-- its partial index by key. `OFFSET 0` keeps each EXISTS a probe per limit row: without
-- it the planner may turn the EXISTS into a hashed subplan that reads every claimable
-- job of the queues (7,500 rows, 6 ms of a claim in the bench, on a table whose
-- statistics were not gathered yet), where a probe per limited key costs an index
-- step each.
(l.scope = 'queue' AND l.name = ANY ({queues}))
OR (l.scope = 'key' AND (
    EXISTS (
        SELECT FROM {schema}.jobs AS lj
        WHERE lj.state = 'pending' AND lj.limit_key = l.name
          AND lj.queue = ANY ({queues}) AND lj.run_at <= $2
        OFFSET 0
    )
    OR EXISTS (
        SELECT FROM {schema}.jobs AS lj
        WHERE lj.state = 'running' AND lj.limit_key = l.name
          AND lj.queue = ANY ({queues}) AND lj.lease_until <= $2
        OFFSET 0
    )
))
