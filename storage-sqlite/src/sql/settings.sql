-- The connection's settings, read back to verify them.
SELECT j.journal_mode, s.synchronous, b.timeout, f.foreign_keys
FROM pragma_journal_mode() AS j, pragma_synchronous() AS s,
     pragma_busy_timeout() AS b, pragma_foreign_keys() AS f
