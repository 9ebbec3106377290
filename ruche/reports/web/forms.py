"""The forms of the report pages. They parse what the browser sends; every rule is the
service's (ruche.reports.services), whose refusals come back onto the field they name."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ruche.accounts.models import Team
from ruche.core.exceptions import ValidationError
from ruche.forecasting.selectors import visible_teams, visible_users
from ruche.pipelines.selectors import pipeline_list
from ruche.reports.figures import GROUPING_LABELS
from ruche.reports.models import Alert, Frequency, Report

KIND_LABELS = {
    Report.Kind.REVENUE: _("Revenue"),
    Report.Kind.FORECAST: _("Forecast (open pipeline by expected close)"),
    Report.Kind.FUNNEL: _("Funnel (stage conversion)"),
    Report.Kind.ACTIVITIES: _("Activities"),
    Report.Kind.WIN_LOSS: _("Win/loss (by reason, competitor, …)"),
    Report.Kind.DEALS_BY_STAGE: _("Deals by stage"),
}
PERIOD_LABELS = {
    Report.Period.THIS_MONTH: _("This month"),
    Report.Period.LAST_MONTH: _("Last month"),
    Report.Period.THIS_QUARTER: _("This quarter"),
    Report.Period.LAST_QUARTER: _("Last quarter"),
    Report.Period.THIS_YEAR: _("This year"),
    Report.Period.LAST_YEAR: _("Last year"),
    Report.Period.LAST_12_MONTHS: _("Last 12 months"),
    Report.Period.LAST_24_MONTHS: _("Last 24 months"),
    Report.Period.ALL_TIME: _("Since the first deal"),
    Report.Period.CUSTOM: _("Custom dates"),
}
CHART_LABELS = {
    Report.Chart.BAR: _("Bars"),
    Report.Chart.LINE: _("Line"),
    Report.Chart.PIE: _("Pie"),
    Report.Chart.TABLE: _("Table only"),
}
FREQUENCY_LABELS = {
    Frequency.DAILY: _("Daily"),
    Frequency.WEEKLY: _("Weekly"),
    Frequency.MONTHLY: _("Monthly"),
}
ALERT_LABELS = {
    Alert.Kind.PIPELINE_COVERAGE: _("Pipeline coverage below a ratio"),
    Alert.Kind.ROTTING_DEALS: _("Rotting deals"),
    Alert.Kind.QUOTA_GAP: _("Quota gap at a date"),
}
PERIOD_KIND_LABELS = {"month": _("Month"), "quarter": _("Quarter"), "year": _("Year")}


def _date_input():
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class RuleForm(forms.Form):
    """A form whose service refusals ({field: message}) land on the named field."""

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        for name, value in list(data.items()):
            if hasattr(value, "pk"):
                data[name] = value.pk
        return data

    def add_refusal(self, error: ValidationError) -> None:
        for field, message in (error.field_errors or {"__all__": error.message}).items():
            self.add_error(field if field in self.fields else None, gettext(message))


class ReportForm(RuleForm):
    name = forms.CharField(label=_("Name"), max_length=120)
    kind = forms.ChoiceField(label=_("Kind"), choices=KIND_LABELS.items())
    grouping = forms.ChoiceField(label=_("Grouping"), choices=GROUPING_LABELS.items())
    chart = forms.ChoiceField(label=_("Chart"), choices=CHART_LABELS.items())
    period = forms.ChoiceField(label=_("Period"), choices=PERIOD_LABELS.items())
    date_from = forms.DateField(label=_("From"), required=False, widget=_date_input())
    date_to = forms.DateField(label=_("To"), required=False, widget=_date_input())
    filter_owner_id = forms.ModelChoiceField(
        label=_("Owner"), required=False, queryset=None, empty_label=_("Everyone")
    )
    filter_team_id = forms.ModelChoiceField(
        label=_("Team"),
        required=False,
        queryset=Team.objects.order_by("name"),
        empty_label=_("All teams"),
    )
    filter_pipeline_id = forms.ModelChoiceField(
        label=_("Pipeline"), required=False, queryset=None, empty_label=_("All pipelines")
    )
    shared = forms.BooleanField(label=_("Shared with everyone"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        users = get_user_model().objects.filter(is_active=True).order_by("name", "email")
        self.fields["filter_owner_id"].queryset = users
        self.fields["filter_pipeline_id"].queryset = pipeline_list()

    @classmethod
    def initial_of(cls, report: Report) -> dict:
        return {
            "name": report.name,
            "kind": report.kind,
            "grouping": report.grouping,
            "chart": report.chart,
            "period": report.period,
            "date_from": report.date_from,
            "date_to": report.date_to,
            "filter_owner_id": report.filter_owner_id,
            "filter_team_id": report.filter_team_id,
            "filter_pipeline_id": report.filter_pipeline_id,
            "shared": report.shared,
        }


class ScheduleForm(RuleForm):
    frequency = forms.ChoiceField(label=_("Frequency"), choices=FREQUENCY_LABELS.items())
    recipient_ids = forms.ModelMultipleChoiceField(
        label=_("Recipients"), queryset=None, required=False
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["recipient_ids"].queryset = visible_users(user).order_by("name", "email")

    def service_data(self) -> dict:
        people = self.cleaned_data["recipient_ids"]
        return {
            "frequency": self.cleaned_data["frequency"],
            "recipient_ids": [p.pk for p in people] or None,
        }


class AlertForm(RuleForm):
    name = forms.CharField(label=_("Name"), max_length=120)
    kind = forms.ChoiceField(label=_("Alert when"), choices=ALERT_LABELS.items())
    frequency = forms.ChoiceField(
        label=_("Check and send at most"), choices=FREQUENCY_LABELS.items()
    )
    target_user_id = forms.ModelChoiceField(label=_("Rep"), required=False, queryset=None)
    target_team_id = forms.ModelChoiceField(label=_("Team"), required=False, queryset=None)
    pipeline_id = forms.ModelChoiceField(
        label=_("Pipeline"), required=False, queryset=None, empty_label=_("All pipelines")
    )
    period = forms.ChoiceField(label=_("Quota period"), choices=PERIOD_KIND_LABELS.items())
    min_ratio = forms.DecimalField(
        label=_("Minimum coverage ratio"), required=False, max_digits=6, decimal_places=2
    )
    min_count = forms.IntegerField(label=_("Minimum rotting deals"), required=False, min_value=1)
    on_date = forms.DateField(label=_("Check on"), required=False, widget=_date_input())
    max_gap = forms.DecimalField(
        label=_("Alert above a gap of"), required=False, max_digits=15, decimal_places=2
    )
    recipient_ids = forms.ModelMultipleChoiceField(
        label=_("Recipients"), queryset=None, required=False
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        people = visible_users(user).order_by("name", "email")
        self.fields["target_user_id"].queryset = people
        self.fields["recipient_ids"].queryset = people
        self.fields["target_team_id"].queryset = visible_teams(user).order_by("name")
        self.fields["pipeline_id"].queryset = pipeline_list()

    def service_data(self) -> dict:
        data = super().service_data()
        data["recipient_ids"] = [p.pk for p in data["recipient_ids"]] or None
        return {k: v for k, v in data.items() if v is not None}
