-- Ends, at ?2, the waiting dependents of job ?1 (which failed or was cancelled) whose
-- policy ends them: 'fail' fails them, 'cancel' cancels them, with error ?3. Those with
-- dependents of their own are queued to settle in turn (jobs_ended_with_dependents).
UPDATE jobs
SET state = CASE on_dependency_failure WHEN 'fail' THEN 'failed' ELSE 'cancelled' END,
    finished_at = ?2,
    last_error = ?3,
    waiting_for = 0
WHERE state = 'waiting'
  AND on_dependency_failure IN ('cancel', 'fail')
  AND id IN (SELECT dependent FROM job_dependencies WHERE dependency = ?1)
