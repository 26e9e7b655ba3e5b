-- Whether limit row `l` bears on a claim at $2 of the claim's queues (an array, filled
-- in per statement, see sql.rs): a limit of one of them, or of a key that a claimable
-- job of them carries (pending and due, or running with its lease over).
-- lock_limits.sql asks it of every limit row, on the limited path; each side of the
-- key's test reads its partial index by key. `OFFSET 0` keeps each EXISTS a probe per
-- limit row: without it the planner may turn the EXISTS into a hashed subplan that
-- reads every claimable job of the queues (7,500 rows, 6 ms a claim in the bench, on
-- a table whose statistics were not gathered yet). A probe costs an index step per
-- stored key limit instead. (The plain claims check only the jobs they chose:
-- parts/pick_due.sql.)
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
