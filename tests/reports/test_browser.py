"""In Chromium: the form offers only the kind's groupings, and the report page draws its chart
with chart.js from the saved figures."""

from ruche.reports.models import Report
from tests.browser import BROWSER_TEST

pytestmark = BROWSER_TEST


def test_create_a_funnel_report_then_see_its_chart(page_as, rep, make_deal):
    make_deal(rep, "10")
    make_deal(rep, "20")
    page = page_as(rep)
    page.goto("/reports/new/")
    page.fill("input[name=name]", "Mon entonnoir")
    page.select_option("select[name=kind]", "funnel")
    assert page.eval_on_selector("select[name=grouping]", "s => s.value") == "stage"
    hidden = page.eval_on_selector_all(
        "select[name=grouping] option", "options => options.filter(o => !o.disabled).length"
    )
    assert hidden == 1
    assert not page.is_visible("input[name=date_from]")
    page.select_option("select[name=period]", "custom")
    assert page.is_visible("input[name=date_from]")
    page.select_option("select[name=period]", "this_year")
    page.click("form.report-form button[type=submit]")
    page.wait_for_url("**/reports/*/")
    report = Report.objects.get()
    assert (report.kind, report.grouping, report.owner_id) == ("funnel", "stage", rep.pk)
    page.wait_for_function("() => window.Chart && Chart.getChart('report-chart')")
    drawn = page.evaluate(
        "() => { const c = Chart.getChart('report-chart');"
        " return [c.config.type, c.data.labels[0], c.data.datasets[0].data[0]]; }"
    )
    assert drawn == ["bar", "Lead", 2]
