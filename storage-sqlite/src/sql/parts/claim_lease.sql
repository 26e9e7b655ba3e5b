-- What a claim writes on each job it leases (claim_queue.sql, claim_queues.sql): the
-- attempt and the fencing token go up by one, the lease runs to ?4 for worker ?5, and
-- the job is attempted at ?2, first attempted then if it never was.
SET state = 'running',
    attempt = attempt + 1,
    lease_token = lease_token + 1,
    lease_until = ?4,
    worker = ?5,
    attempted_at = ?2,
    first_attempted_at = coalesce(first_attempted_at, ?2)