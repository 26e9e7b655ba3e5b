-- Which of the queues in the JSON array ?1 are paused.
SELECT name FROM queues
WHERE paused = 1 AND name IN (SELECT value FROM json_each(?1))
