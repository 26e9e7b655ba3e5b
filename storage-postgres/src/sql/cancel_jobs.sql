{selected}
-- Cancels at $5, as cancel.sql does, the jobs `selected` ($9: pending and running).
UPDATE {schema}.jobs
SET state = 'cancelled',
    finished_at = $5,
    lease_until = NULL
WHERE id IN (SELECT id FROM selected)
