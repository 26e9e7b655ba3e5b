-- Leases the available jobs whose rowids are bound from ?6 on, as claim_simple_choose.sql
-- chose them in the same transaction: as parts/claim_lease.sql writes a claimed job
-- (?2 the time, ?4 the lease's end, ?5 the worker; ?1 and ?3 unused).
-- `sql::lease_rows` repeats the `?` of the list; a null matches no row.
-- OR FAIL: a statement that may fail halfway, with its own undo (ABORT, the
-- default), journals every page it changes so that it can undo them alone (about
-- 1.3k instructions a job of a claim and of a completion). Its only caller rolls the
-- whole transaction back when any statement fails, so it needs no undo of its own.
UPDATE OR FAIL jobs
{claim_lease}
WHERE rowid IN (?) AND state = 'available'
