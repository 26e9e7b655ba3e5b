-- The ids of the jobs that depend on job $1, ascending (deleting a job deletes its
-- edges both ways: jobs_deleted_forget_dependencies).
SELECT dependent AS id
FROM {schema}.job_dependencies
WHERE dependency = $1
ORDER BY dependent
