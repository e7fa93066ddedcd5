CREATE TABLE items (id int PRIMARY KEY, name text, qty int DEFAULT 1, price numeric(8,2));
INSERT INTO items VALUES (1, 'apple', 3, 0.5), (2, 'pear', DEFAULT, 0.75);
INSERT INTO items (id, name) VALUES (3, 'fig');
INSERT INTO items VALUES (4);
SELECT * FROM items ORDER BY id;
-- name: UPDATE with expressions and RETURNING
UPDATE items SET qty = qty + 10, price = price * 2 WHERE id <= 2 RETURNING id, qty, price;
UPDATE items SET name = upper(name) WHERE name LIKE 'f%';
UPDATE items SET qty = NULL WHERE id = 99;
SELECT id, name, qty, price FROM items ORDER BY id;
-- name: changing the primary key
UPDATE items SET id = 40 WHERE id = 4;
SELECT id FROM items ORDER BY id;
-- name: DELETE
DELETE FROM items WHERE price IS NULL RETURNING id;
DELETE FROM items WHERE id = 12345;
SELECT count(*) FROM items;
-- name: INSERT ... SELECT
CREATE TABLE cheap (id int, name text);
INSERT INTO cheap SELECT id, name FROM items WHERE price < 1;
SELECT * FROM cheap;
-- name: ON CONFLICT
INSERT INTO items VALUES (1, 'apple', 1, 0.5) ON CONFLICT DO NOTHING;
INSERT INTO items VALUES (1, 'apple', 1, 0.5) ON CONFLICT (id) DO UPDATE SET qty = items.qty + excluded.qty RETURNING id, qty;
INSERT INTO items VALUES (7, 'kiwi', 1, 0.1) ON CONFLICT (id) DO UPDATE SET qty = 0 RETURNING id, qty;
INSERT INTO items VALUES (7, 'kiwi', 5, 0.1) ON CONFLICT (id) DO UPDATE SET qty = excluded.qty WHERE items.qty > 100;
SELECT id, qty FROM items ORDER BY id;
