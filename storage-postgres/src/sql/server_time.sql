-- The server's time, in microseconds since the Unix epoch: the probe of the
-- ServerClock, and the one statement that reads the database's clock on purpose
-- (sql_tests.rs exempts this file by name). It only measures the server's time so that
-- workers can follow it; no statement about jobs or schedules reads a clock.
SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
