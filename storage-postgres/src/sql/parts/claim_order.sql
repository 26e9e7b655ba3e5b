-- How the claims' `ready` and `expired` scans of claim_queue.sql and claim_queues.sql
-- take their candidates: in claim order (the order of the jobs_ready index, and of
-- `picked` in pick_due.sql), the first $3, skipping rows another claim has locked.
ORDER BY priority, run_at, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
