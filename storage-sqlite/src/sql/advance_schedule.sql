-- Compare-and-set: moves enabled schedule ?1 from slot ?2 to slot ?3 (NULL: no more
-- slots) at ?4, which is when it last fired; changes nothing when its next slot is not ?2 any more.
UPDATE schedules
SET next_fire_at = ?3, last_fired_at = ?4, updated_at = ?4
WHERE name = ?1 AND enabled = 1 AND next_fire_at = ?2
