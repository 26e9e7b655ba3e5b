-- Counts job ?1, which ended at ?2, off each of its waiting dependents: one that waited
-- for it last is pending from then on, due at the later of its run_at and ?2.
UPDATE jobs
SET waiting_for = waiting_for - 1,
    state = CASE
        WHEN waiting_for > 1 THEN 'waiting'
        WHEN run_at <= ?2 THEN 'available'
        ELSE 'scheduled'
    END,
    run_at = CASE WHEN waiting_for > 1 THEN run_at ELSE max(run_at, ?2) END
WHERE state = 'waiting'
  AND id IN (SELECT dependent FROM job_dependencies WHERE dependency = ?1)
