-- Lifts the statement timeout of the store's connections until the transaction ends:
-- a migration of a large table may take longer, and connects wait their turn for the
-- schema's advisory lock.
SET LOCAL statement_timeout = 0
