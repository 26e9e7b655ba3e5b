{selected}
-- Changes, as update_job.sql does, the jobs `selected` ($9: pending): run_at to $10,
-- priority to $11, queue to $12, each only when given (NULL: left as it is).
UPDATE {schema}.jobs
SET run_at = COALESCE($10::bigint, run_at),
    priority = COALESCE($11::smallint, priority),
    queue = COALESCE($12::text, queue)
WHERE id IN (SELECT id FROM selected)
