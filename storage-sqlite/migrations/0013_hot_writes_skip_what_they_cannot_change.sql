-- A claim and a completion, the writes of every job, skip what they cannot change.
--
-- - The trigger that queues a job ending with dependents (jobs_ended_with_dependents,
--   migration 0009) fires on an UPDATE that sets finished_at instead of one that sets
--   state. Every statement that ends a job sets finished_at, as the index of finished
--   jobs needs, and a claim never does, so SQLite leaves the trigger out of a claim
--   when it prepares it. With a row trigger, an UPDATE collects the rows it will write
--   first, then enters the trigger's program for each of them, whose condition fails
--   on nearly every row (has_dependents = 0): about 10k instructions a job of a claim
--   and its completion, half of it the claim's.
-- - The three key indexes test `limit_key IS NOT NULL` before the state. SQLite tests
--   a partial index's condition on the old and the new row of every UPDATE that
--   changes a column it reads (state, for all three): the null test settles it for a
--   job without a key, which is most jobs, without comparing text. Readers find these
--   indexes as before: SQLite matches each term of the condition, in any order.
DROP TRIGGER jobs_ended_with_dependents;

CREATE TRIGGER jobs_ended_with_dependents
AFTER UPDATE OF finished_at ON jobs
FOR EACH ROW
WHEN NEW.has_dependents = 1
 AND (NEW.state = 'completed' OR NEW.state = 'failed' OR NEW.state = 'cancelled')
 AND NOT (OLD.state = 'completed' OR OLD.state = 'failed' OR OLD.state = 'cancelled')
BEGIN
    INSERT INTO dependency_settle (job_id, state, at)
    VALUES (NEW.id, NEW.state, NEW.finished_at);
END;

DROP INDEX jobs_scheduled_by_key;

CREATE INDEX jobs_scheduled_by_key ON jobs (limit_key, queue, run_at)
    WHERE limit_key IS NOT NULL AND state = 'scheduled';

DROP INDEX jobs_ready_by_key;

CREATE INDEX jobs_ready_by_key ON jobs (limit_key, priority, run_at, id, queue)
    WHERE limit_key IS NOT NULL AND state = 'available';

DROP INDEX jobs_leased_by_key;

CREATE INDEX jobs_leased_by_key ON jobs (limit_key, lease_until)
    WHERE limit_key IS NOT NULL AND state = 'running';
