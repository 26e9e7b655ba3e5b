-- Leases the jobs a full claim chose (temp.leasehold_claimed) to worker ?5 until ?4,
-- each attempted at ?2 (first attempted then if it never was), and answers their rows.
UPDATE jobs
{claim_lease}
WHERE id IN (SELECT id FROM temp.leasehold_claimed)
{claim_returning}
