-- Enables paused schedule ?1 from slot ?2 at ?3.
UPDATE schedules
SET enabled = 1, next_fire_at = ?2, updated_at = ?3
WHERE name = ?1 AND enabled = 0
