"""Activities, calendar, forecast board and team settings, included under the "web" namespace
by ruche/web/urls.py."""

from django.urls import path

from ruche.web.views import activities, calendar, forecast_board, settings_team

urlpatterns = [
    # Activities and calendar
    path("my-activities/", activities.my_activities, name="my_activities"),
    path(
        "my-activities/<int:activity_id>/complete/",
        activities.activity_complete,
        name="activity_complete",
    ),
    path("calendar/", calendar.calendar_page, name="calendar"),
    path("calendar/feed/regenerate/", calendar.feed_regenerate, name="calendar_feed_regenerate"),
    path("calendar/feed/<str:token>.ics", calendar.ical_feed, name="calendar_feed"),
]

urlpatterns += [
    path("forecast-board/", forecast_board.forecast_board, name="forecast_board"),
    path(
        "forecast-board/deals/<int:deal_id>/month/",
        forecast_board.forecast_move,
        name="forecast_move",
    ),
]

urlpatterns += [
    path("settings/team/", settings_team.team_settings, name="settings_team"),
    path("settings/team/users/invite/", settings_team.user_invite, name="settings_user_invite"),
    path(
        "settings/team/users/<int:user_id>/",
        settings_team.user_change,
        name="settings_user_change",
    ),
    path("settings/team/teams/add/", settings_team.team_add, name="settings_team_add"),
    path(
        "settings/team/teams/<int:team_id>/rename/",
        settings_team.team_rename,
        name="settings_team_rename",
    ),
    path(
        "settings/team/visibility/",
        settings_team.default_visibility,
        name="settings_default_visibility",
    ),
]
