import itertools
import random
from decimal import Decimal
from typing import Any

from services.read.projections import customers, sales
from services.read.projections.rollup import Rollup, Rollups, Tally, add
from tests.sales_days import day_document

DAY = "2026-11-22"


def order(order_id: str, *lines: tuple[str, str, int, str], cancelled: bool = False) -> Any:
    """A sales order document: lines of (sku, name, quantity, unit price)."""
    return {
        "_id": order_id,
        "day": DAY,
        "cancelled": cancelled,
        "lines": {sku: [name, quantity, price] for sku, name, quantity, price in lines},
    }


def rolled(orders: list[Any]) -> Rollup:
    rollup = Rollup()
    for doc in orders:
        rollup.set(doc["_id"], sales.contribution(doc))
    return rollup


def test_add_drops_amounts_that_come_to_zero() -> None:
    tally: Tally = {}
    add(tally, ("a",), Decimal("0.10"))
    add(tally, ("a",), Decimal("0.20"))
    assert tally == {("a",): Decimal("0.30")}
    add(tally, ("a",), Decimal("-0.30"))
    assert tally == {}


def test_set_replaces_a_members_contribution_and_totals_drop_what_comes_to_zero() -> None:
    rollup = Rollup()
    assert rollup.set("o-1", {("n",): 1, ("v",): Decimal("10.10")})
    assert rollup.set("o-2", {("n",): 1, ("v",): Decimal("0.20")})
    assert rollup.totals == {("n",): 2, ("v",): Decimal("10.30")}
    assert not rollup.set("o-1", {("n",): 1, ("v",): Decimal("10.10")})  # the same again
    assert rollup.set("o-1", {("n",): 1})
    assert rollup.totals == {("n",): 2, ("v",): Decimal("0.20")}
    assert rollup.set("o-2", {}) and not rollup.set("o-2", {})
    assert rollup.totals == {("n",): 1}
    assert rollup.set("o-1", {})
    assert rollup.totals == {}
    assert rollup.total(("n",)) == 0


def test_decimal_totals_stay_exact_over_many_replacements() -> None:
    rng, rollup = random.Random(3), Rollup()
    values: dict[str, Decimal] = {}
    for _ in range(5_000):
        member = f"o-{rng.randrange(50)}"
        values[member] = Decimal(rng.randrange(1, 10**6)) / 100
        rollup.set(member, {("v",): values[member]})
    total = rollup.total(("v",))
    assert isinstance(total, Decimal) and total == sum(values.values(), Decimal("0"))
    assert total.as_tuple().exponent == -2  # exact cents, never rounded


def test_day_figures_follow_orders_as_they_change() -> None:
    first = order("o-1", ("A", "Apple", 2, "0.10"), ("B", "Bread", 1, "3.40"))
    second = order("o-2", ("A", "Apple", 1, "0.10"))
    rollup = rolled([first, second])
    day = sales.day_of(DAY, rollup)
    assert (day["orders_placed"], day["orders_cancelled"], day["units"]) == (2, 0, 4)
    assert (day["revenue"], day["average_order_value"]) == ("3.70", "1.85")
    assert [(p["sku"], p["units"], p["revenue"]) for p in day["products"]] == [
        ("A", 3, "0.30"),
        ("B", 1, "3.40"),
    ]
    rollup.set("o-1", sales.contribution({**first, "cancelled": True}))
    day = sales.day_of(DAY, rollup)
    assert (day["orders_placed"], day["orders_cancelled"], day["units"]) == (2, 1, 1)
    assert (day["revenue"], day["average_order_value"]) == ("0.10", "0.10")
    assert day["products"] == [{"sku": "A", "name": "Apple", "units": 1, "revenue": "0.10"}]
    rollup.set("o-2", sales.contribution({**second, "cancelled": True}))
    day = sales.day_of(DAY, rollup)
    assert (day["revenue"], day["average_order_value"], day["products"]) == ("0.00", "0.00", [])
    assert rollup.totals == {sales.PLACED: 2, sales.CANCELLED: 2}


def test_day_figures_equal_a_full_recompute_whatever_the_order_of_the_orders() -> None:
    names = ["Apple", "Apples", "apple"]
    orders = [
        order(f"o-{n}", ("A", names[n % 3], 1 + n % 4, "1.25"), ("B", "Bread", n % 2 + 1, "3.40"))
        for n in range(7)
    ] + [order("o-9", ("A", "Apple", 5, "1.25"), cancelled=True)]
    want = sales.day_of(DAY, rolled(orders))
    for permutation in itertools.islice(itertools.permutations(orders), 0, 5040, 97):
        assert sales.day_of(DAY, rolled(list(permutation))) == want
    assert day_document(DAY, orders) == want


def test_a_products_name_is_the_most_frequent_then_the_greatest() -> None:
    def name(*names: str) -> str:
        orders = [order(f"o-{n}", ("A", x, 1, "1.00")) for n, x in enumerate(names)]
        return str(sales.day_of(DAY, rolled(orders))["products"][0]["name"])

    assert name("Apple", "Pear", "Apple") == "Apple"
    assert name("Apple", "Pear") == name("Pear", "Apple") == "Pear"
    # names of cancelled orders do not count
    orders = [order("o-1", ("A", "Apple", 1, "1.00")), order("o-2", ("A", "Pear", 1, "1.00"))]
    rollup = rolled(orders)
    rollup.set("o-2", sales.contribution({**orders[1], "cancelled": True}))
    assert sales.day_of(DAY, rollup)["products"][0]["name"] == "Apple"


def test_customer_totals_from_a_rollup_equal_a_full_recompute() -> None:
    orders = [
        {"_id": "o-1", "total": "31.50", "status": "placed"},
        {"_id": "o-2", "total": "0.00", "status": "placed"},
        {"_id": "o-3", "total": "9.99", "status": "cancelled"},
    ]
    rollup = Rollup()
    for doc in orders:
        rollup.set(doc["_id"], customers.contribution(doc))
    assert customers.totals_of(rollup) == customers.totals(orders) == (3, "31.50")
    rollup.set("o-1", customers.contribution({**orders[0], "status": "cancelled"}))
    assert customers.totals_of(rollup) == (3, "0.00")
    assert customers.totals_of(Rollup()) == (0, "0.00")


def test_rollups_are_taken_only_for_the_revision_they_were_kept_for() -> None:
    rollups, rollup = Rollups(), Rollup()
    rollups.keep("d", 3, rollup)
    assert rollups.take("d", 4) is None
    assert "d" not in rollups  # a stale rollup is forgotten
    rollups.keep("d", 3, rollup)
    assert rollups.take("d", None) is None  # the document is gone
    rollups.keep("d", 3, rollup)
    assert rollups.take("d", 3) is rollup
    assert "d" not in rollups  # out while a batch works on it
    assert rollups.take("d", 3) is None


def test_rollups_keep_within_their_budget_least_recently_used_out_first() -> None:
    rollups = Rollups(budget=9)
    for n in range(4):
        rollup = Rollup()
        rollup.set(f"o-{n}", {("n",): 1})
        rollups.keep(f"g-{n}", 1, rollup)  # weight 2 each
    assert len(rollups) == 4
    again = rollups.take("g-0", 1)
    assert again is not None
    rollups.keep("g-0", 2, again)  # g-0 is now the most recently used
    big = Rollup()
    for n in range(3):
        big.set(f"b-{n}", {("n",): 1})
    rollups.keep("g-big", 1, big)  # weight 4: g-1 and g-2 make room
    assert {g for g in ["g-0", "g-1", "g-2", "g-3", "g-big"] if g in rollups} == {
        "g-0",
        "g-3",
        "g-big",
    }
    huge = Rollup()
    for n in range(20):
        huge.set(f"h-{n}", {("n",): 1})
    rollups.keep("g-huge", 1, huge)  # more than the whole budget: nothing kept
    assert len(rollups) == 0
