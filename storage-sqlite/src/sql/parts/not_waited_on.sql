(jobs.has_dependents = 0 OR NOT EXISTS (
    SELECT 1 FROM job_dependencies AS edge
    JOIN jobs AS waiting ON waiting.id = edge.dependent
    WHERE edge.dependency = jobs.id AND waiting.state IN ('waiting', 'available', 'scheduled', 'running')))
