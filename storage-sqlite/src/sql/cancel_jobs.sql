-- cancel.sql for the jobs `selected` (parts/selected_jobs.sql, joined in front; ?9
-- the pending and running states): each ends Cancelled at ?5. The lease token stays,
-- so a running job's heartbeat is told it was cancelled.
UPDATE jobs
SET state = 'cancelled',
    finished_at = ?5,
    lease_until = NULL
WHERE id IN (SELECT id FROM selected)
