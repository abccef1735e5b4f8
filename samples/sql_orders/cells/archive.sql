# @sql connection=lake write=true
CREATE OR REPLACE TABLE big_spenders AS SELECT * FROM :big_spenders;
