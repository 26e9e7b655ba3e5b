-- Failed and cancelled jobs by state, then id: the dashboard's and the CLI's list of
-- failed (or cancelled) jobs, newest first, reads its page here instead of walking
-- every job's id, and counts them from here (list.sql, list_newest.sql and count.sql
-- name this index's condition; see filter.rs). Only those two ends add an entry:
-- claims, enqueues and completions (the common end) do not touch it. An index of
-- completed jobs too cost a completion a third more in a measurement on a million-job
-- file, and completed jobs are the ones a newest-first walk of ids meets first.
CREATE INDEX jobs_failed_or_cancelled ON jobs (state, id)
    WHERE state IN ('failed', 'cancelled');
