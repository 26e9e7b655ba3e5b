-- Deletes schedule ?1 (its jobs stay).
DELETE FROM schedules
WHERE name = ?1
