-- How the walked claim of claim_queue.sql and claim_queues.sql ends, after its arms of
-- the jobs no limit governs: the arm of the jobs a limit governs, the claim order, the
-- cut to ?3, and the close of the gate parts/claim_cuts.sql opens.
    UNION ALL
    -- The jobs a limit governs, within the limits (parts/claim_governed.sql).
    SELECT id, priority, run_at FROM governed_taken
    ORDER BY priority, run_at, id
    -- Not a bare ?3: SQLite would plan this statement for the value bound and
    -- prepare it again at every claim.
    LIMIT ?3 + 0
) AS claimed
