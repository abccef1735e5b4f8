# @name summarize in R
# `sales` arrives as an R data.frame (region is a factor); `by_region` and `best` go back
# to Python as a pandas DataFrame and a str.
library(ggplot2)

sales$revenue <- sales$units * sales$price
by_region <- aggregate(revenue ~ region, data = sales, FUN = sum)
by_region <- by_region[order(-by_region$revenue), ]
rownames(by_region) <- NULL
best <- as.character(by_region$region[1])
message("summarized ", nrow(sales), " sales in R")

ggplot(by_region, aes(x = region, y = revenue)) +
  geom_col(fill = "steelblue") +
  labs(title = "Revenue by region", x = NULL, y = "revenue")
