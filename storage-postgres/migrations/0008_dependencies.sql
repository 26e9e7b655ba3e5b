-- Dependencies: a job may wait for other jobs. Times are BIGINT microseconds given by
-- the caller; nothing here reads the server's clock.
--
-- - jobs.state gains 'waiting': a job whose dependencies have not all completed. No
--   claim or index of pending jobs reads it; it holds its unique key. The constraint is
--   replaced NOT VALID: it only admits more, so the rows stored need no scan.
-- - jobs.depends_on: the ids it waits (or waited) for, a `jsonb` array (NULL: none),
--   with jobs.on_dependency_failure ('cancel', 'fail', 'ignore'; NULL with none).
--   jobs.waiting_for: while waiting, how many of them have not ended.
--   jobs.has_dependents: true once a job has a dependent; an enqueue sets it in the
--   statement that reads the job's state, which locks the row until the enqueue
--   commits, so an end of that job either comes first (and the enqueue reads it) or
--   waits for the enqueue (and then sees its dependents).
-- - job_dependencies: one row per (dependency, dependent): a job's dependents by its id.
-- - settle_dependents(), run by jobs_ended_with_dependents: when a job with dependents
--   ends, in the same transaction, ends the waiting dependents whose policy a failed or
--   cancelled end ends, counts it off the others (pending, due at the later of run_at
--   and the end, once none is left; notifying their queues), and so on down, level by
--   level, each level a statement of its own that sees what committed before it. An
--   AFTER trigger runs once the statement that ended the jobs is done, so a bulk cancel
--   cancels every job it selects before any dependent is settled. Its own updates do
--   not fire it again (pg_trigger_depth), the loop goes down instead.
-- Every column added has no default or a constant one, so none rewrites the table.
ALTER TABLE jobs DROP CONSTRAINT jobs_state_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_state_check
    CHECK (state IN ('waiting', 'pending', 'running', 'completed', 'failed', 'cancelled'))
    NOT VALID;

ALTER TABLE jobs
    ADD COLUMN depends_on            JSONB,
    ADD COLUMN on_dependency_failure TEXT,
    ADD COLUMN waiting_for           BIGINT  NOT NULL DEFAULT 0,
    ADD COLUMN has_dependents        BOOLEAN NOT NULL DEFAULT FALSE;

ALTER TABLE jobs ADD CONSTRAINT jobs_on_dependency_failure_check
    CHECK (on_dependency_failure IN ('cancel', 'fail', 'ignore')) NOT VALID;

-- At most one non-terminal job per unique key, a waiting one included.
DROP INDEX jobs_unique_key;
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('waiting', 'pending', 'running');

CREATE TABLE job_dependencies (
    dependency UUID NOT NULL,
    dependent  UUID NOT NULL,
    PRIMARY KEY (dependency, dependent)
);

CREATE INDEX job_dependencies_by_dependent ON job_dependencies (dependent);

-- The schema's name comes from the search_path the migration runs with, kept for the
-- function's own statements (SET search_path FROM CURRENT): an application's session
-- may have any search_path when a statement of the store fires the trigger.
CREATE FUNCTION settle_dependents() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_ended   uuid[] := ARRAY[NEW.id];
    v_failed  uuid[] := CASE WHEN NEW.state = 'completed' THEN '{}'::uuid[]
                             ELSE ARRAY[NEW.id] END;
    v_doomed  uuid[];
    v_at      bigint := NEW.finished_at;
    v_notices bigint;
BEGIN
    WHILE cardinality(v_ended) > 0 LOOP
        WITH doomed AS (
            UPDATE jobs AS d
            SET state = CASE d.on_dependency_failure WHEN 'fail' THEN 'failed'
                                                     ELSE 'cancelled' END,
                finished_at = v_at,
                last_error = 'a dependency failed or was cancelled',
                waiting_for = 0
            WHERE d.state = 'waiting'
              AND d.on_dependency_failure IN ('cancel', 'fail')
              AND d.id IN (SELECT e.dependent FROM job_dependencies AS e
                           WHERE e.dependency = ANY (v_failed))
            RETURNING d.id
        )
        SELECT coalesce(array_agg(doomed.id), '{}'::uuid[]) INTO v_doomed FROM doomed;

        WITH counted AS (
            UPDATE jobs AS d
            SET waiting_for = d.waiting_for - n.ended,
                state = CASE WHEN d.waiting_for > n.ended THEN 'waiting' ELSE 'pending' END,
                run_at = CASE WHEN d.waiting_for > n.ended THEN d.run_at
                              ELSE greatest(d.run_at, v_at) END
            FROM (SELECT e.dependent, count(*) AS ended FROM job_dependencies AS e
                  WHERE e.dependency = ANY (v_ended)
                  GROUP BY e.dependent) AS n
            WHERE d.id = n.dependent AND d.state = 'waiting'
            RETURNING d.queue, d.state
        )
        SELECT count(pg_notify(current_schema() || '_enqueued', left(q.queue, 4000)))
        INTO v_notices
        FROM (SELECT DISTINCT counted.queue FROM counted WHERE counted.state = 'pending') AS q;

        v_ended := v_doomed;
        v_failed := v_doomed;
    END LOOP;
    RETURN NULL;
END;
$$;

CREATE TRIGGER jobs_ended_with_dependents
AFTER UPDATE OF state ON jobs
FOR EACH ROW
WHEN (NEW.has_dependents
      AND NEW.state IN ('completed', 'failed', 'cancelled')
      AND OLD.state NOT IN ('completed', 'failed', 'cancelled')
      AND pg_trigger_depth() < 1)
EXECUTE FUNCTION settle_dependents();

-- A deleted job (retention, an operator) takes its rows of job_dependencies with it.
CREATE FUNCTION forget_dependencies() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
    DELETE FROM job_dependencies WHERE dependency = OLD.id OR dependent = OLD.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER jobs_deleted_forget_dependencies
AFTER DELETE ON jobs
FOR EACH ROW
WHEN (OLD.has_dependents OR OLD.depends_on IS NOT NULL)
EXECUTE FUNCTION forget_dependencies();
