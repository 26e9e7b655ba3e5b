-- The lease of the claims (claim_queue.sql, claim_queues.sql, claim_limited.sql): the
-- UPDATE of the CTE `leased` that leases the rows of `picked` to worker $5 until $4
-- (the attempt and the fencing token go up by one, attempted_at is $2, and so is
-- first_attempted_at on a job's first claim), answering each leased job.
UPDATE {schema}.jobs AS j
    SET state = 'running',
        attempt = j.attempt + 1,
        lease_token = j.lease_token + 1,
        lease_until = $4,
        worker = $5,
        attempted_at = $2,
        first_attempted_at = COALESCE(j.first_attempted_at, $2)
    FROM picked
    WHERE j.id = picked.id
    RETURNING j.id, j.kind, j.queue, j.payload::text AS payload, j.priority, j.state, j.run_at, j.attempt, j.max_attempts, j.lease_token, j.lease_until, j.worker, j.unique_key, j.last_error, j.created_at, j.finished_at, j.first_attempted_at, j.attempted_at, j.errors::text AS errors, j.output::text AS output, j.tags::text AS tags, j.metadata::text AS metadata, j.limit_key, j.depends_on::text AS depends_on, j.on_dependency_failure
