-- Deletes schedule $1 (its jobs stay).
DELETE FROM {schema}.schedules
WHERE name = $1
