-- Disables schedule ?1 at ?2, if it is enabled.
UPDATE schedules
SET enabled = 0, updated_at = ?2
WHERE name = ?1 AND enabled = 1
