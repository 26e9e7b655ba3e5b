-- Counts every completed job queued in dependency_settle off each of its waiting
-- dependents at once, as count_off_dependents.sql does one job at a time: a dependent
-- whose last dependencies these were is pending from then on, due at the later of its
-- run_at and the latest of their ends. One statement for a group commit's completions,
-- however many members of a batch it ends.
UPDATE jobs
SET waiting_for = jobs.waiting_for - ended.jobs,
    state = CASE
        WHEN jobs.waiting_for > ended.jobs THEN 'waiting'
        WHEN jobs.run_at <= ended.at THEN 'available'
        ELSE 'scheduled'
    END,
    run_at = CASE WHEN jobs.waiting_for > ended.jobs THEN jobs.run_at
                  ELSE max(jobs.run_at, ended.at) END
FROM (
    SELECT edge.dependent, count(*) AS jobs, max(settle.at) AS at
    -- CROSS JOIN: the queue drives, each job's edges read by the primary key (left to
    -- itself SQLite would read every edge in dependent order for the GROUP BY).
    FROM dependency_settle AS settle
    CROSS JOIN job_dependencies AS edge ON edge.dependency = settle.job_id
    WHERE settle.state = 'completed'
    GROUP BY edge.dependent
) AS ended
WHERE jobs.id = ended.dependent AND jobs.state = 'waiting'
