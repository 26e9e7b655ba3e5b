-- Inserts one pending job without a unique key, from bound parameters: id (16 bytes),
-- kind, queue, payload (JSON text), priority, state ('available' when due at
-- created_at, else 'scheduled'), run_at, max_attempts, created_at, tags (JSON text;
-- null: none), metadata (JSON text; null: none), limit_key (null: none).
-- `sql::enqueue_rows` repeats its row for a multi-row insert. Its parameters are
-- anonymous: sqlx asks SQLite each parameter's name as it binds it, which for
-- numbered ones (?NNN) walks the statement's list of names, every row of a large
-- insert over again.
INSERT INTO jobs (id, kind, queue, payload, priority, state, run_at, attempt, max_attempts,
                  lease_token, created_at, tags, metadata, limit_key)
VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, 0, ?, coalesce(?, '[]'), coalesce(?, '{}'), ?)
