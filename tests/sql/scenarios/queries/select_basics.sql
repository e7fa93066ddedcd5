CREATE TABLE emp (id int PRIMARY KEY, name text, dept text, salary int, boss int);
INSERT INTO emp VALUES (1, 'ada', 'eng', 120, NULL), (2, 'bob', 'eng', 100, 1), (3, 'cy', 'ops', 90, 1), (4, 'dee', 'ops', NULL, 3), (5, 'eve', 'sales', 80, 1);
SELECT name FROM emp WHERE salary > 95 ORDER BY name;
SELECT name, salary FROM emp ORDER BY salary DESC NULLS LAST, name;
SELECT name, salary FROM emp ORDER BY salary;
SELECT name FROM emp ORDER BY id LIMIT 2 OFFSET 1;
SELECT DISTINCT dept FROM emp;
SELECT dept, count(*), sum(salary), min(salary), max(salary), avg(salary) FROM emp GROUP BY dept ORDER BY dept;
SELECT dept, count(salary) AS paid FROM emp GROUP BY dept HAVING count(*) > 1 ORDER BY 1;
SELECT count(*) FROM emp WHERE dept = 'none';
SELECT sum(salary) FROM emp WHERE dept = 'none';
SELECT name, CASE WHEN salary >= 100 THEN 'high' WHEN salary IS NULL THEN 'unknown' ELSE 'low' END AS band FROM emp ORDER BY id;
SELECT coalesce(salary, 0) + 1 AS s, nullif(dept, 'ops') AS d FROM emp ORDER BY id;
SELECT name FROM emp WHERE dept IN ('eng', 'sales') AND salary BETWEEN 80 AND 110 ORDER BY name;
SELECT name FROM emp WHERE name NOT LIKE '%e%' ORDER BY 1;
SELECT greatest(1, 5, 3), least(2, NULL, 1), 7 / 2, 7 % 3, -7 / 2, 2 ^ 10, 1.5 * 2;
SELECT 'a' || 'b' || 1, length('hello'), upper('x'), lower('Y'), 1 = 1 AND NULL, 1 = 2 AND NULL, NULL OR true;
-- name: joins
SELECT e.name, b.name AS boss FROM emp e JOIN emp b ON e.boss = b.id ORDER BY e.id;
SELECT e.name, b.name AS boss FROM emp e LEFT JOIN emp b ON e.boss = b.id ORDER BY e.id;
SELECT e.name, b.name FROM emp e, emp b WHERE e.boss = b.id AND b.dept = 'ops';
SELECT count(*) FROM emp a CROSS JOIN emp b;
CREATE TABLE dept (dept text, floor int);
INSERT INTO dept VALUES ('eng', 3), ('ops', 1), ('hr', 2);
SELECT name, floor FROM emp JOIN dept USING (dept) ORDER BY name;
SELECT dept, name FROM emp FULL JOIN dept USING (dept) ORDER BY dept, name;
SELECT d.dept, count(e.id) FROM dept d LEFT JOIN emp e ON e.dept = d.dept GROUP BY d.dept ORDER BY d.dept;
SELECT * FROM emp NATURAL JOIN dept ORDER BY id;
-- name: subqueries
SELECT name FROM emp WHERE salary > (SELECT avg(salary) FROM emp) ORDER BY name;
SELECT name FROM emp WHERE id IN (SELECT boss FROM emp) ORDER BY name;
SELECT name FROM emp WHERE id NOT IN (SELECT boss FROM emp WHERE boss IS NOT NULL) ORDER BY name;
SELECT name FROM emp e WHERE EXISTS (SELECT 1 FROM emp x WHERE x.boss = e.id) ORDER BY 1;
SELECT name, (SELECT count(*) FROM emp x WHERE x.boss = e.id) AS reports FROM emp e ORDER BY id;
SELECT t.dept, t.total FROM (SELECT dept, sum(salary) AS total FROM emp GROUP BY dept) t WHERE t.total > 100 ORDER BY 1;
SELECT name FROM emp WHERE salary = ANY (ARRAY[80, 90]) ORDER BY 1;
-- name: set operations and VALUES
SELECT dept FROM emp UNION SELECT dept FROM dept;
SELECT dept FROM emp UNION ALL SELECT dept FROM dept ORDER BY 1;
SELECT dept FROM emp INTERSECT SELECT dept FROM dept;
SELECT dept FROM dept EXCEPT SELECT dept FROM emp;
VALUES (1, 'one'), (2, 'two') ORDER BY 1 DESC;
-- name: WITH
WITH big AS (SELECT * FROM emp WHERE salary >= 100) SELECT name FROM big ORDER BY name;
WITH RECURSIVE chain(id, name, depth) AS (SELECT id, name, 0 FROM emp WHERE boss IS NULL UNION ALL SELECT e.id, e.name, c.depth + 1 FROM emp e JOIN chain c ON e.boss = c.id) SELECT name, depth FROM chain ORDER BY depth, name;
