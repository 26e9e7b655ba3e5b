-- Holds the advisory lock $1 (one per schema) until the transaction ends: connects
-- racing on one schema check and migrate it one after another.
SELECT pg_advisory_xact_lock($1)
