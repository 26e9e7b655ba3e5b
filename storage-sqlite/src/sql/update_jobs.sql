-- update_job.sql for the jobs `selected` (parts/selected_jobs.sql, joined in front;
-- ?9 the pending states): run_at to ?10, priority to ?11, queue to ?12 (NULL: leaves
-- it as it is); each available when due at ?5, else scheduled.
UPDATE jobs
SET run_at = coalesce(?10, run_at),
    priority = coalesce(?11, priority),
    queue = coalesce(?12, queue),
    state = CASE WHEN coalesce(?10, run_at) <= ?5 THEN 'available' ELSE 'scheduled' END
WHERE id IN (SELECT id FROM selected)
