-- The jobs that ended with dependents in this transaction and are not settled yet
-- (jobs_ended_with_dependents writes them): each id, the state it ended in and when.
SELECT job_id, state, at FROM dependency_settle
