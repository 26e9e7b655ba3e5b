-- Copies the pages the log holds into the database file, as far as no reader still
-- needs them, without waiting for any: what SQLite's automatic checkpoint does, run
-- by the writer for the pages its own connection wrote.
PRAGMA wal_checkpoint(PASSIVE)
