# @sql connection=duck
# @name big_spenders
-- :segments is a DataFrame, queried as a table; :min_total a bound parameter.
SELECT customer, total, orders FROM :segments
WHERE total >= :min_total
ORDER BY total DESC
