-- Fails (a primary key violation) when a job of this transaction ended with dependents
-- still to settle, and changes nothing otherwise: the statement before COMMIT, so that
-- no transaction commits unsettled dependents. The writer then settles them and
-- commits (a group sent as one call runs again the ordinary way).
INSERT INTO dependency_settle (job_id, state, at)
SELECT job_id, state, at FROM dependency_settle
