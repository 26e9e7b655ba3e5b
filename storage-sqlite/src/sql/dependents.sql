-- The ids of the stored jobs that depend on job ?1, ascending.
SELECT dependent AS id
FROM job_dependencies
WHERE dependency = ?1
  AND dependent IN (SELECT id FROM jobs)
ORDER BY dependent
