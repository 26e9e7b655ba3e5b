-- When a scheduler last fired each schedule (integer microseconds given by the caller;
-- NULL: never).
ALTER TABLE schedules ADD COLUMN last_fired_at INTEGER;
