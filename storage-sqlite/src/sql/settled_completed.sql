-- The completed jobs queued in dependency_settle are settled (count_off_completed.sql).
DELETE FROM dependency_settle WHERE state = 'completed'
