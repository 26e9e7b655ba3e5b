-- Turns the database file to write-ahead logging; answers the journal mode in force.
PRAGMA journal_mode = WAL
