-- Deletes the jobs `selected` (parts/selected_jobs.sql, joined in front; ?9 the
-- states but running).
DELETE FROM jobs
WHERE id IN (SELECT id FROM selected)
