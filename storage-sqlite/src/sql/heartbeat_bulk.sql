-- Extends to ?2 each live lease of the JSON array ?1, each [job id as hex, lease token];
-- answers the leases it extended. Never shortens one (a heartbeat may land after a
-- later one).
-- jsonb_each hands each row over as binary JSON, which `->>` reads in place: json_each
-- rendered it as text, parsed again by every `->>`.
UPDATE jobs
SET lease_until = max(ifnull(jobs.lease_until, ?2), ?2)
FROM jsonb_each(?1) AS lease
WHERE jobs.id = unhex(lease.value ->> 0)
  AND jobs.state = 'running'
  AND jobs.lease_token = lease.value ->> 1
RETURNING jobs.id, jobs.lease_token
