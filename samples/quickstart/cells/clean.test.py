"""Tests for the `clean` cell: `cell` is its namespace, loaded from the cache."""


def test_small_orders_are_dropped(cell):
    assert (cell.orders["units"] >= 2).all()


def test_revenue_is_units_times_price(cell):
    orders = cell["orders"]
    assert (orders["revenue"] == orders["units"] * orders["unit_price"]).all()


def test_orders_are_sorted_by_date(cell):
    assert cell.orders["date"].is_monotonic_increasing
