-- complete_row.sql for jobs whose rowid the writer's own connection knows, having
-- leased them itself (`crate::direct`): each row bound is (rowid, id as 16 bytes,
-- lease token, finished_at), and the job is found by its rowid, without a seek in the
-- index of ids (about 2.3k instructions a job). The id is checked too: a rowid that
-- names another job (VACUUM renumbers rows) completes nothing, and the caller's
-- count of completions falls short. `sql::complete_rows_by_rowid` repeats the row; a
-- row of nulls matches no job.
-- OR FAIL: as complete_row.sql.
WITH done (rid, id, token, finished_at) AS (VALUES (?, ?, ?, ?))
UPDATE OR FAIL jobs
SET state = 'completed',
    finished_at = done.finished_at,
    lease_until = NULL
FROM done
WHERE jobs.rowid = done.rid
  AND jobs.id = done.id
  AND jobs.state = 'running'
  AND jobs.lease_token = done.token
  AND jobs.has_dependents = 0
