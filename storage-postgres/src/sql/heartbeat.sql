-- Extends to $3 each lease (job $1[i], token $2[i]) that is its job's live lease;
-- returns the leases it extended. Never shortens one (a heartbeat may land after a
-- later one).
UPDATE {schema}.jobs AS j
SET lease_until = GREATEST(j.lease_until, $3)
FROM UNNEST($1::uuid[], $2::bigint[]) AS l (id, token)
WHERE j.id = l.id AND j.state = 'running' AND j.lease_token = l.token
RETURNING j.id, j.lease_token
