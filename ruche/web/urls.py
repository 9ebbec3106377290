from django.urls import include, path

from ruche.web.views import (
    auth,
    board,
    contacts,
    dashboard,
    deal_parts,
    deals,
    lists,
    quick_add,
    records,
    settings,
)

app_name = "web"
urlpatterns = [
    path("", board.board_home, name="home"),
    # Signing in
    path("login/", auth.sign_in, name="login"),
    path("logout/", auth.sign_out, name="logout"),
    path("password-reset/", auth.password_reset, name="password_reset"),
    path("password-reset/sent/", auth.password_reset_done, name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        auth.password_reset_confirm,
        name="password_reset_confirm",
    ),
    path("password-reset/done/", auth.password_reset_complete, name="password_reset_complete"),
    path("language/", auth.set_language, name="set_language"),
    # Board
    path("board/", board.board_home, name="board_home"),
    path("pipelines/<int:pipeline_id>/board/", board.board, name="board"),
    path("pipelines/<int:pipeline_id>/board/summary/", board.board_summary, name="board_summary"),
    path(
        "pipelines/<int:pipeline_id>/board/stages/<int:stage_id>/",
        board.board_column,
        name="board_column",
    ),
    # Dashboard
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    # Lists of records: deals, organizations, persons, products, activities
    *[path(f"{key}/", lists.list_view, {"list_key": key}, name=key) for key in lists.LISTS],
    *[
        path(f"{key}/export/", lists.list_export, {"list_key": key}, name=f"{key}_export")
        for key in lists.LISTS
    ],
    path("lists/<str:list_key>/columns/", lists.list_columns, name="list_columns"),
    path("lists/<str:list_key>/filters/", lists.saved_filter_add, name="saved_filter_add"),
    path(
        "saved-filters/<int:filter_id>/delete/",
        lists.saved_filter_delete,
        name="saved_filter_delete",
    ),
    path("deals/bulk/", lists.deal_bulk, name="deals_bulk"),
    # Deals
    path("deals/<int:deal_id>/", deals.deal_detail, name="deal"),
    path("deals/<int:deal_id>/fields/<str:name>/", deals.deal_field, name="deal_field"),
    path("deals/<int:deal_id>/move/", deals.deal_move, name="deal_move"),
    path("deals/<int:deal_id>/status/", deals.deal_status, name="deal_status"),
    path("deals/<int:deal_id>/history/", deals.deal_history, name="deal_history"),
    path("deals/<int:deal_id>/lines/", deal_parts.line_save, name="deal_lines"),
    path("deals/<int:deal_id>/lines/<int:line_id>/", deal_parts.line_save, name="deal_line"),
    path(
        "deals/<int:deal_id>/lines/<int:line_id>/remove/",
        deal_parts.line_remove,
        name="deal_line_remove",
    ),
    path("activities/<int:activity_id>/done/", records.activity_done, name="activity_done"),
    # Contacts
    path(
        "organizations/<int:organization_id>/",
        contacts.organization_detail,
        name="organization",
    ),
    path("persons/<int:person_id>/", contacts.person_detail, name="person"),
    path(
        "organizations/<int:organization_id>/history/",
        contacts.organization_history,
        name="organization_history",
    ),
    path("persons/<int:person_id>/history/", contacts.person_history, name="person_history"),
    # Quick add
    path("quick-add/<str:kind>/", quick_add.quick_add, name="quick_add"),
]

urlpatterns += [
    # Settings (admins)
    path("settings/", settings.pipelines, name="settings"),
    path("settings/pipelines/", settings.pipelines, name="settings_pipelines"),
    path("settings/pipelines/add/", settings.pipeline_add, name="settings_pipeline_add"),
    path(
        "settings/pipelines/<int:pipeline_id>/rename/",
        settings.pipeline_rename,
        name="settings_pipeline_rename",
    ),
    path(
        "settings/pipelines/<int:pipeline_id>/stages/add/",
        settings.stage_add,
        name="settings_stage_add",
    ),
    path(
        "settings/pipelines/<int:pipeline_id>/stages/order/",
        settings.stage_order,
        name="settings_stage_order",
    ),
    path(
        "settings/pipelines/<int:pipeline_id>/stages/<int:stage_id>/",
        settings.stage_edit,
        name="settings_stage_edit",
    ),
    path(
        "settings/pipelines/<int:pipeline_id>/stages/<int:stage_id>/delete/",
        settings.stage_remove,
        name="settings_stage_remove",
    ),
    path("settings/company/", settings.company, name="settings_company"),
    path("settings/lists/", settings.lookups, name="settings_lookups_home"),
    path("settings/lists/<str:kind>/", settings.lookups, name="settings_lookups"),
    path(
        "settings/lists/<str:kind>/<int:lookup_id>/",
        settings.lookup_change,
        name="settings_lookup_change",
    ),
    path("settings/fields/", settings.custom_fields, name="settings_fields_home"),
    path("settings/fields/<str:entity>/", settings.custom_fields, name="settings_fields"),
    path(
        "settings/fields/<str:entity>/<str:key>/",
        settings.custom_field_change,
        name="settings_field_change",
    ),
    path("settings/rates/", settings.rates, name="settings_rates"),
    path("settings/tokens/", settings.tokens, name="settings_tokens"),
    path(
        "settings/tokens/<int:token_id>/revoke/",
        settings.token_revoke,
        name="settings_token_revoke",
    ),
]

# Activities and notes of a deal, an organisation or a person.
RECORD_PREFIXES = (("deal", "deals"), ("organization", "organizations"), ("person", "persons"))
urlpatterns += [
    path(f"{prefix}/<int:record_id>/{block}/", view, {"kind": kind}, name=f"{kind}_{block}")
    for kind, prefix in RECORD_PREFIXES
    for block, view in (("activities", records.activity_add), ("notes", records.note_add))
]

# Each area's pages, in its own app.
urlpatterns += [
    path("", include("ruche.web.urls_team")),
    path("forecasts/", include("ruche.forecasting.web.urls")),
    path("reports/", include("ruche.reports.web.urls")),
    path("billing/", include("ruche.billing.web.urls")),
    path("import/", include("ruche.transfer.web.urls")),
]
