# @sql connection=shop write=true
-- Recreate the shop's tables. The statements run in order; the result is a table of
-- statement, kind and rows_affected.
DROP TABLE IF EXISTS orders;
DROP TABLE IF EXISTS customers;
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    amount REAL NOT NULL,
    ordered_on TEXT NOT NULL
);
INSERT INTO customers VALUES (1, 'Ada', 'Lyon'), (2, 'Grace', 'Oslo'), (3, 'Alan', 'Leeds'),
    (4, 'Edsger', 'Delft');
INSERT INTO orders VALUES
    (1, 1, 120.0, '2026-03-01'), (2, 1, 35.5, '2026-03-04'), (3, 2, 80.0, '2026-03-04'),
    (4, 3, 15.0, '2026-03-05'), (5, 2, 99.9, '2026-03-07'), (6, 4, 240.0, '2026-03-08'),
    (7, 3, 60.0, '2026-03-09'), (8, 1, 42.0, '2026-03-11');
