{selected}
-- Deletes the jobs `selected` ($9: the states but running).
DELETE FROM {schema}.jobs
WHERE id IN (SELECT id FROM selected)
