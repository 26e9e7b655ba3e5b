-- Extends the lease ?2 on job ?1 to ?3, if it is the job's live lease; never shortens
-- it (a heartbeat may land after a later one; max() of a NULL is NULL, hence ifnull).
UPDATE jobs
SET lease_until = max(ifnull(lease_until, ?3), ?3)
WHERE id = ?1 AND state = 'running' AND lease_token = ?2
