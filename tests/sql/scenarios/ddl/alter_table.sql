CREATE TABLE people (id int PRIMARY KEY, name text);
INSERT INTO people VALUES (1, 'ada'), (2, 'bob');
-- name: ADD COLUMN with a default fills old rows without a rewrite
ALTER TABLE people ADD COLUMN age int DEFAULT 30;
ALTER TABLE people ADD COLUMN nick text;
SELECT * FROM people ORDER BY id;
INSERT INTO people (id, name) VALUES (3, 'cy');
SELECT id, age FROM people ORDER BY id;
ALTER TABLE people ADD COLUMN must text NOT NULL;
ALTER TABLE people ADD COLUMN age int;
ALTER TABLE people ADD COLUMN IF NOT EXISTS age int;
-- name: rename and drop
ALTER TABLE people RENAME COLUMN name TO full_name;
SELECT full_name FROM people ORDER BY id;
SELECT name FROM people;
ALTER TABLE people DROP COLUMN nick;
SELECT * FROM people ORDER BY id;
ALTER TABLE people DROP COLUMN nick;
ALTER TABLE people DROP COLUMN IF EXISTS nick;
ALTER TABLE people RENAME TO persons;
SELECT count(*) FROM persons;
SELECT count(*) FROM people;
-- name: defaults and NOT NULL
ALTER TABLE persons ALTER COLUMN age SET DEFAULT 1;
INSERT INTO persons (id, full_name) VALUES (4, 'dee');
ALTER TABLE persons ALTER COLUMN age DROP DEFAULT;
INSERT INTO persons (id, full_name) VALUES (5, 'eve');
SELECT id, age FROM persons ORDER BY id;
ALTER TABLE persons ALTER COLUMN age SET NOT NULL;
UPDATE persons SET age = 0 WHERE age IS NULL;
ALTER TABLE persons ALTER COLUMN age SET NOT NULL;
INSERT INTO persons (id, full_name) VALUES (6, 'fay');
-- name: constraints
ALTER TABLE persons ADD CONSTRAINT adult CHECK (age >= 18);
ALTER TABLE persons ADD CONSTRAINT sane CHECK (age < 200);
UPDATE persons SET age = 300 WHERE id = 1;
ALTER TABLE persons DROP CONSTRAINT sane;
UPDATE persons SET age = 300 WHERE id = 1;
ALTER TABLE persons ADD CONSTRAINT one_name UNIQUE (full_name);
INSERT INTO persons VALUES (7, 'ada', 5);
ALTER TABLE persons DROP CONSTRAINT one_name;
INSERT INTO persons VALUES (7, 'ada', 5);
ALTER TABLE persons DROP CONSTRAINT nope;
-- name: changing a column's type rewrites the table
ALTER TABLE persons ALTER COLUMN age TYPE bigint;
ALTER TABLE persons ALTER COLUMN full_name TYPE int;
ALTER TABLE persons ALTER COLUMN age TYPE text USING age::text || ' years';
SELECT id, age FROM persons ORDER BY id;
ALTER TABLE nope ADD COLUMN x int;
ALTER TABLE IF EXISTS nope ADD COLUMN x int;
