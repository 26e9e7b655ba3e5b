-- When a scheduler last fired each schedule (BIGINT microseconds given by the caller;
-- NULL: never).
ALTER TABLE schedules ADD COLUMN last_fired_at BIGINT;
