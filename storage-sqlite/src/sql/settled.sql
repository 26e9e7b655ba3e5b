-- Job ?1's dependents are settled.
DELETE FROM dependency_settle WHERE job_id = ?1
