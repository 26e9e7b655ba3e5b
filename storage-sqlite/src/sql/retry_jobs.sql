-- retry_job.sql for the jobs `selected` (parts/selected_jobs.sql, joined in front;
-- ?9 the states but running): each pending and due at ?5, with one more attempt when
-- it spent them all (parts/run_again.sql). A unique key that another pending or
-- running job holds, or that two of the retried jobs share, fails the whole statement
-- (a unique violation), which then changes nothing.
UPDATE jobs
SET run_at = ?5,
    {run_again}
WHERE id IN (SELECT id FROM selected)
