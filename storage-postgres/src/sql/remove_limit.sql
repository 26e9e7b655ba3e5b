-- Deletes the limit of scope $1 named $2 (waiting for a claim that holds its row
-- locked); affects no row when there is none. remove_limit_starts.sql follows in the
-- same transaction.
DELETE FROM {schema}.limits
WHERE scope = $1 AND name = $2
