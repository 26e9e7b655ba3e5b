-- How a claim (claim_queue.sql, claim_queues.sql) ends, after its CTEs (those of
-- parts/claim_governed.sql among them): the claims that need no walk, then the gate of
-- the walked one. The statement goes on with its arms (the jobs no limit governs, then
-- governed_taken), ordered and cut to ?3, and closes the gate with `) AS claimed`.
-- No limit turns a job of head away: head is the claim, as it is.
SELECT id FROM head WHERE (SELECT ok FROM fast)
UNION ALL
-- Or head's first ?6, every job being governed (`cut`), behind a gate as below.
SELECT first.id
FROM (SELECT 1 WHERE (SELECT ok FROM cut)) AS cut_gate
CROSS JOIN (SELECT id FROM head ORDER BY priority, run_at, id LIMIT ?6 + 0) AS first
UNION ALL
-- Otherwise the arms, behind a gate that SQLite tests before it starts them: as
-- arms of one query, each gated by its own condition, they made up more than half
-- of what a fast claim's selection cost (sorters, window functions and automatic
-- indexes are set up before a row is read).
SELECT claimed.id
FROM (SELECT 1 WHERE NOT (SELECT ok FROM fast) AND NOT (SELECT ok FROM cut)) AS slow
CROSS JOIN (