-- The ON CONFLICT clause of each store's upsert_schedule.sql, the same in every
-- dialect: a schedule of that name is stored already, so its definition is replaced.
-- The stored next slot is taken from the insert only when the spec changed (on the
-- right of SET, columns of schedules are the old row's, those of excluded the new
-- one's), and enabled is left alone, so a paused schedule stays paused. The rule is
-- decided inside the one statement that writes, so two processes registering a
-- schedule at once cannot interleave a read and a write.
ON CONFLICT (name) DO UPDATE SET
    next_fire_at = CASE WHEN schedules.spec = excluded.spec
                        THEN schedules.next_fire_at ELSE excluded.next_fire_at END,
    spec = excluded.spec,
    kind = excluded.kind,
    payload = excluded.payload,
    queue = excluded.queue,
    priority = excluded.priority,
    max_attempts = excluded.max_attempts,
    missed = excluded.missed,
    updated_at = excluded.updated_at
