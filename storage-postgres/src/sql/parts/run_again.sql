-- What makes a job run again, but its run time, which retry_job.sql and retry_jobs.sql
-- each set: pending, no lease, not finished, with one more attempt when it spent them
-- all. Its error history, last error and output stay.
state = 'pending',
    lease_until = NULL,
    finished_at = NULL,
    max_attempts = GREATEST(max_attempts, attempt + 1)
