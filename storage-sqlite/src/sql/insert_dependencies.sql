-- Records that job ?1 depends on each job of the JSON array ?2 (hyphenated ids).
INSERT INTO job_dependencies (dependency, dependent)
SELECT unhex(replace(value, '-', '')), ?1 FROM json_each(?2)
