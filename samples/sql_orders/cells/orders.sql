# @sql connection=shop
# @name orders
# @after seed_shop
-- Read-only: an INSERT here would be refused by SQLite before anything changed.
SELECT o.id, c.name AS customer, c.city, o.amount, o.ordered_on
FROM orders AS o JOIN customers AS c ON c.id = o.customer_id
ORDER BY o.id
