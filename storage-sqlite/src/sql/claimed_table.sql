-- The ids a full claim chooses (claim_queue.sql, claim_queues.sql), for the statements
-- of the same call that lease them (claim_chosen.sql) and count their starts
-- (count_starts.sql): a table of the connection's own, made on its first full claim,
-- empty between claims (forget_claimed.sql empties it at the end of each; a call
-- that fails rolls back, the table's rows included).
CREATE TEMP TABLE IF NOT EXISTS leasehold_claimed (id BLOB NOT NULL)
