-- Starts job ?1, inserted waiting, as leasehold_sql::dependency::Start says: in state
-- ?2 ('pending': scheduled or available by its run_at against ?7), waiting for ?3 of
-- its dependencies ?4 (a JSON array of ids), finished at ?5 with error ?6 when a
-- dependency's end ended it.
UPDATE jobs
SET state = CASE
        WHEN ?2 <> 'pending' THEN ?2
        WHEN run_at <= ?7 THEN 'available'
        ELSE 'scheduled'
    END,
    waiting_for = ?3,
    depends_on = ?4,
    finished_at = ?5,
    last_error = ?6
WHERE id = ?1
