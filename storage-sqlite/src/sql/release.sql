-- Gives job ?1 back under live lease ?2: pending at ?3 (as of ?4), its attempt
-- returned. The lease token stays, so the released lease never matches again.
UPDATE jobs
SET state = CASE WHEN ?3 <= ?4 THEN 'available' ELSE 'scheduled' END,
    run_at = ?3,
    attempt = attempt - 1,
    lease_until = NULL
WHERE id = ?1 AND state = 'running' AND lease_token = ?2
