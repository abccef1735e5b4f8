# @sql connection=lake
# @name lake_totals
# @after archive
SELECT count(*) AS customers, sum(total) AS revenue FROM big_spenders
