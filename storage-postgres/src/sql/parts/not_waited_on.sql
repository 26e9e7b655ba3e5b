(NOT jobs.has_dependents OR NOT EXISTS (
    SELECT FROM {schema}.job_dependencies AS edge
    JOIN {schema}.jobs AS waiting ON waiting.id = edge.dependent
    WHERE edge.dependency = jobs.id AND waiting.state IN ('waiting', 'pending', 'running')))
