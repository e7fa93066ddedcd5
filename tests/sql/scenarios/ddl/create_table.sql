-- name: create tables with the common column types and constraints
CREATE TABLE accounts (id integer PRIMARY KEY, owner text NOT NULL, balance numeric(12,2) DEFAULT 0 CHECK (balance >= 0), opened date, active boolean DEFAULT true);
CREATE TABLE accounts (id integer);
CREATE TABLE IF NOT EXISTS accounts (id integer);
INSERT INTO accounts (id, owner) VALUES (1, 'ada');
SELECT id, owner, balance, opened, active FROM accounts;
-- name: serial columns draw from their own sequence
CREATE TABLE events (id serial PRIMARY KEY, name varchar(20) NOT NULL);
INSERT INTO events (name) VALUES ('concert'), ('opera') RETURNING id, name;
INSERT INTO events (name) VALUES ('ballet') RETURNING id;
SELECT nextval('events_id_seq');
SELECT currval('events_id_seq');
-- name: unique constraints and composite keys
CREATE TABLE seats (event_id int, seat text, holder text, PRIMARY KEY (event_id, seat), UNIQUE (holder));
INSERT INTO seats VALUES (1, 'A1', 'ada'), (1, 'A2', 'bob');
INSERT INTO seats VALUES (1, 'A1', 'cy');
INSERT INTO seats VALUES (2, 'A1', 'ada');
INSERT INTO seats VALUES (2, 'A1', NULL), (2, 'A2', NULL);
SELECT event_id, seat, holder FROM seats;
-- name: drop
DROP TABLE seats;
DROP TABLE seats;
DROP TABLE IF EXISTS seats;
SELECT * FROM seats;
