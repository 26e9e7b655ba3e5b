{selected_sparing_waited_on}
-- Deletes the jobs `selected` ($9: the states but running; a job a waiting job
-- depends on is passed over).
DELETE FROM {schema}.jobs
WHERE id IN (SELECT id FROM selected)
