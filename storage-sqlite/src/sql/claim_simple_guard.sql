-- Fails (a CHECK violation on limits: a row with neither a max_running nor a rate,
-- which it never writes) when a claim of the queues in the JSON array ?1 at ?2 needs
-- more than claim_queue_simple.sql: when a limit is stored, or a running job of the
-- queues has a lease that ended (fail_expired_leases.sql, run before it, ended those
-- with no attempt left; the rest are claimable, and only claim_queue.sql's arms take
-- them). Changes nothing otherwise. The writer then runs the claim again the ordinary
-- way. (The queues as ?1, as promote_due.sql takes them: a statement of the call that
-- skipped ?3 to ?6 would take list arguments for them: see CLAIM_QUEUE_IN_ONE_CALL.)
INSERT INTO limits (scope, name, updated_at)
SELECT 'queue', '', ?2
WHERE EXISTS (SELECT 1 FROM limits)
   OR EXISTS (SELECT 1 FROM jobs
              WHERE state = 'running' AND queue IN (SELECT value FROM json_each(?1))
                AND lease_until <= ?2)
