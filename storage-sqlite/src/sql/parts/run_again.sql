-- What makes a job run again, but its run time, which retry_job.sql and retry_jobs.sql
-- each set: pending (available, due at that run time), no lease, not finished, with
-- one more attempt when it spent them all. Its error history, last error and output
-- stay.
state = 'available',
    lease_until = NULL,
    finished_at = NULL,
    max_attempts = max(max_attempts, attempt + 1)
