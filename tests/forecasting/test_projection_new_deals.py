"""The run-rate: revenue from deals not added yet = forecast deals added x revenue won per deal
added, by months since (ruche.forecasting.projection.NewDeals). Pure arithmetic on the two
GROUP BY results it reads, no database."""

import math

import pytest

from ruche.forecasting.projection import NewDeals

# A yearly pattern of deals added per month; month indexes 100..135 are three whole years.
SEASON = (8, 10, 12, 10, 9, 10, 9, 4, 11, 12, 13, 12)


def test_the_first_month_is_left_out_and_holt_winters_follows_a_seasonal_flow():
    # Month 99 holds the first deal: history starts within it, so its 3 deals are left out.
    created = {99: 3, **{m: 10 * SEASON[m % 12] for m in range(100, 136)}}
    # 50 per deal added won in the month it was added, 20 the next.
    matrix = {(m, m): 50 * n for m, n in created.items()}
    matrix |= {(m + 1, m): 20 * n for m, n in created.items() if m + 1 < 136}
    deals = NewDeals(matrix, created)
    assert deals.first_month == 100
    assert deals.conversion(136, 3) == [50.0, 20.0, 0.0]
    mean, sd, method = deals.forecast(136, 3, with_spread=True)
    assert method == "holt_winters"
    # Next year's pattern, 90, 100, 90 deals: 90 x 50, 90 x 20 + 100 x 50, 100 x 20 + 90 x 50.
    assert [round(x, 6) for x in mean] == [4500.0, 6800.0, 6500.0]
    assert [round(x, 6) for x in sd] == [0.0, 0.0, 0.0]  # a flow without noise


def test_under_24_months_the_trailing_mean_and_its_spread():
    created = {10: 1, 11: 2, 12: 4, 13: 2, 14: 4}
    matrix = {(11, 11): 200, (12, 12): 200, (13, 13): 200, (14, 14): 400, (12, 11): 100}
    deals = NewDeals(matrix, created)
    r0, r1 = 1000 / 12, 100 / 8  # cohorts 11..14 for R_0; 11..13 (month + 1 over) for R_1
    assert deals.conversion(15, 2) == pytest.approx([r0, r1])
    mean, sd, method = deals.forecast(15, 2, with_spread=True)
    assert method == "trailing_mean"
    assert mean == pytest.approx([3 * r0, 3 * r1 + 3 * r0])  # 3 deals a month (2, 4, 2, 4)
    # Spread: the monthly deals' (sd 1, independent months) through the rates, and what the
    # revenue did around Σ C x R with the deals actually added (its in-sample residuals).
    residual_0 = [200 - 2 * r0, 200 - 4 * r0, 200 - 2 * r0, 400 - 4 * r0]
    residual_1 = [300 - 4 * r0 - 2 * r1, 200 - 2 * r0 - 4 * r1, 400 - 4 * r0 - 2 * r1]
    expected = [
        math.sqrt(r0**2 + sum(x**2 for x in residual_0) / 4),
        math.sqrt(r1**2 + r0**2 + sum(x**2 for x in residual_1) / 3),
    ]
    assert sd == pytest.approx(expected)
    # Without the spread (the backtest), only the means.
    assert deals.forecast(15, 2, with_spread=False) == (mean, [0.0, 0.0], "trailing_mean")


def test_only_the_part_of_the_month_still_ahead_counts_for_its_deals():
    deals = NewDeals({(11, 11): 300}, {10: 1, 11: 3, 12: 3})
    mean, _, _ = deals.forecast(13, 2, first_share=0.25, with_spread=False)
    # R_0 = 300 / 6 = 50 per deal, R_1 = 0; 3 deals a month, a quarter of them this month.
    assert mean == pytest.approx([3 * 50 * 0.25, 3 * 50])


def test_no_history_no_run_rate():
    assert NewDeals({}, {}).forecast(13, 2, with_spread=True) == ([0.0, 0.0], [0.0, 0.0], "none")
    # Only the month of the first deal: no complete month before the cutoff yet.
    assert NewDeals({}, {12: 4}).forecast(13, 1, with_spread=True) == ([0.0], [0.0], "none")
