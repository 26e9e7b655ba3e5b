-- The ids of the stored jobs that depend on job $1, ascending.
SELECT edge.dependent AS id
FROM {schema}.job_dependencies AS edge
WHERE edge.dependency = $1
  AND EXISTS (SELECT 1 FROM {schema}.jobs WHERE jobs.id = edge.dependent)
ORDER BY edge.dependent
