# @name Revenue by region
by_region = (
    orders.groupby(["region", "product"])["revenue"].sum().unstack("product").round(2)
)
by_region
