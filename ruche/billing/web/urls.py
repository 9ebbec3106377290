"""Web pages of this area, included under the "web" namespace by ruche/web/urls.py."""

from django.urls import path

from ruche.billing.web import views

urlpatterns = [
    path("quotes/", views.quote_list, name="billing_quotes"),
    path("quotes/<int:quote_id>/", views.quote_detail, name="billing_quote"),
    path("quotes/<int:quote_id>/lines/", views.quote_lines, name="billing_quote_lines"),
    path("quotes/<int:quote_id>/customer/", views.quote_customer, name="billing_quote_customer"),
    path("quotes/<int:quote_id>/email/", views.quote_email, name="billing_quote_email"),
    path("quotes/<int:quote_id>/delete/", views.quote_delete, name="billing_quote_delete"),
    path("quotes/<int:quote_id>/invoice/", views.quote_invoice, name="billing_quote_invoice"),
    path("quotes/<int:quote_id>/pdf/", views.quote_pdf_download, name="billing_quote_pdf"),
    path("quotes/<int:quote_id>/<str:action>/", views.quote_action, name="billing_quote_action"),
    path("new/<str:kind>/", views.document_new, name="billing_new"),
    path("deals/<int:deal_id>/quote/", views.deal_quote, name="billing_deal_quote"),
    path("deals/<int:deal_id>/invoice/", views.deal_invoice, name="billing_deal_invoice"),
    path("invoices/", views.invoice_list, name="billing_invoices"),
    path("credit-notes/", views.credit_note_list, name="billing_credit_notes"),
    path("invoices/<int:invoice_id>/", views.invoice_detail, name="billing_invoice"),
    path("invoices/<int:invoice_id>/lines/", views.invoice_lines, name="billing_invoice_lines"),
    path(
        "invoices/<int:invoice_id>/customer/",
        views.invoice_customer,
        name="billing_invoice_customer",
    ),
    path("invoices/<int:invoice_id>/delete/", views.invoice_delete, name="billing_invoice_delete"),
    path("invoices/<int:invoice_id>/issue/", views.invoice_issue, name="billing_invoice_issue"),
    path(
        "invoices/<int:invoice_id>/payments/",
        views.invoice_payment,
        name="billing_invoice_payment",
    ),
    path(
        "invoices/<int:invoice_id>/credit-note/",
        views.invoice_credit_note,
        name="billing_invoice_credit_note",
    ),
    path("invoices/<int:invoice_id>/pdf/", views.invoice_pdf_download, name="billing_invoice_pdf"),
    path("invoices/<int:invoice_id>/xml/", views.invoice_xml_download, name="billing_invoice_xml"),
    path("cash-in/", views.cash_in, name="billing_cash_in"),
]
