-- The ids a full claim chooses (claim_queue.sql, claim_queues.sql), for the statements
-- of the same call that lease them (claim_chosen.sql) and count their starts
-- (count_starts.sql): a table of the connection's own, made on its first full claim,
-- empty between claims (forget_claimed.sql runs before and after each).
CREATE TEMP TABLE IF NOT EXISTS leasehold_claimed (id BLOB NOT NULL)
