-- Ends Completed each job of the rows bound as parameters, three a row (id as 16
-- bytes, lease token, finished_at), whose lease is live and that no job depends on:
-- complete_bulk.sql for the writer's own connection (`crate::direct`), which binds
-- its rows instead of writing them as JSON for jsonb_each to parse (about 2.6k
-- instructions a job less, the JSON's writing included), and counts the jobs it
-- completed instead of answering them (RETURNING kept every id in a temporary table:
-- 2.9k a job). `sql::complete_rows` repeats the row; a row of nulls matches no job.
-- OR FAIL: a statement that may fail halfway, with its own undo (ABORT, the
-- default), journals every page it changes so that it can undo them alone (about
-- 1.3k instructions a job of a claim and of a completion). Its only caller rolls the
-- whole transaction back when any statement fails, so it needs no undo of its own.
WITH done (id, token, finished_at) AS (VALUES (?, ?, ?))
UPDATE OR FAIL jobs
SET state = 'completed',
    finished_at = done.finished_at,
    lease_until = NULL
FROM done
WHERE jobs.id = done.id
  AND jobs.state = 'running'
  AND jobs.lease_token = done.token
  AND jobs.has_dependents = 0
