-- Inserts the pending jobs without unique keys in the JSON array ?1, each [id as hex,
-- kind, queue, payload as JSON text, priority, run_at, max_attempts, created_at, tags
-- as JSON text, metadata as JSON text, limit_key (null: none)]: available when due at
-- created_at, else scheduled. jsonb_each hands each row over as binary JSON, which
-- `->>` reads in place: json_each rendered it as text, parsed again by every `->>`.
INSERT INTO jobs (id, kind, queue, payload, priority, state, run_at, attempt, max_attempts,
                  lease_token, created_at, tags, metadata, limit_key)
SELECT unhex(value ->> 0), value ->> 1, value ->> 2, value ->> 3, value ->> 4,
       CASE WHEN value ->> 5 <= value ->> 7 THEN 'available' ELSE 'scheduled' END,
       value ->> 5, 0, value ->> 6, 0, value ->> 7, value ->> 8, value ->> 9, value ->> 10
FROM jsonb_each(?1)
