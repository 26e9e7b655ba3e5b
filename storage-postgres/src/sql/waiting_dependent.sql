-- A job not finished (waiting, or released and not ended: it may still read job $1's
-- output) that depends on job $1, if any.
SELECT waiting.id FROM {schema}.job_dependencies AS edge
JOIN {schema}.jobs AS waiting ON waiting.id = edge.dependent
WHERE edge.dependency = $1 AND waiting.state IN ('waiting', 'pending', 'running')
LIMIT 1
