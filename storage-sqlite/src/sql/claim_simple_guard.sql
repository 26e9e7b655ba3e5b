-- Fails (a CHECK violation on limits: a row with neither a max_running nor a rate,
-- which it never writes) when a claim of the queues in the JSON array ?1 at ?2 needs
-- more than claim_queue_simple.sql: when a limit is stored, or a running job of the
-- queues has a lease that ended with an attempt left (only claim_queue.sql's arms take
-- those; fail_expired_leases.sql, run after it, ends the ones with no attempt left) or
-- with dependents (ending it settles them, which only the writer's ordinary way does:
-- the writer's own connection, `crate::direct`, never settles).
-- Changes nothing otherwise. The first statement of the simple claim, so that when it
-- fails nothing of the call has run, and the writer runs the claim the full way. (The
-- queues as ?1, as promote_due.sql takes them: a statement of the call that skipped ?3
-- to ?6 would take list arguments for them: see CLAIM_QUEUE_STEPS.)
INSERT INTO limits (scope, name, updated_at)
SELECT 'queue', '', ?2
WHERE EXISTS (SELECT 1 FROM limits)
   OR EXISTS (SELECT 1 FROM jobs
              WHERE state = 'running' AND queue IN (SELECT value FROM json_each(?1))
                AND lease_until <= ?2
                AND (attempt < max_attempts OR has_dependents = 1))
