-- A waiting job that depends on job ?1, if any.
SELECT waiting.id FROM job_dependencies AS edge
JOIN jobs AS waiting ON waiting.id = edge.dependent
WHERE edge.dependency = ?1 AND waiting.state = 'waiting'
LIMIT 1
