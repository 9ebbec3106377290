"""Payment reminders (relances) and the deal owner's notices.

The sequence is data (`ReminderStep`): by default 3 days before the due date, then 7, 15 and 30
days after it, each with an editable French email (Django template strings). Every day the
worker runs `ruche.billing.tasks.send_due_reminders`, which calls `send_due_reminders` here:

1. For each issued invoice or deposit with a balance (not paid, not credited), the latest active
   step whose date (due date + offset) has come and that was not sent yet is chosen; earlier
   unsent steps are skipped, and nothing is sent once a later step was.
2. In one transaction per invoice: the invoice row is locked, its balance recomputed, a
   `ReminderLog` row written (unique per invoice and step: a second run, or a second worker,
   cannot decide the same step again), and the reminder recorded in the history of the invoice
   and of its deal (event `reminder_sent`).
3. After commit (`transaction.on_commit`) the email is sent by SMTP (Django's email backend).
   A log row is claimed (pending → sending) before sending, so an email is sent at most once.

Late interest (Code de commerce L441-10): balance x annual rate x days late / 365, rounded half
up to the cent, at the rate printed on the invoice (the seller snapshot taken when issued; the
profile's current `late_payment_rate` — ECB refinancing rate + 10 points, 12,15 % by default —
for older invoices). The flat recovery fee (40 € by default) is due by business customers once
the invoice is late. Both are stated in the reminder; neither changes the invoice.

Template variables: `number`, `issue_date`, `due_date` (dd/mm/yyyy), `customer_name`,
`total`, `balance`, `days_late`, `days_to_due`, `rate`, `interest`, `fee`, `total_claimed`
(balance + interest + fee), `seller_name`, `iban`, `bic`, `step_name`.
"""

import datetime as dt
from decimal import Decimal

from babel.numbers import format_currency, format_decimal
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template import Context, Engine, TemplateSyntaxError
from django.utils import timezone

from ruche.billing.models import (
    BillingProfile,
    CustomerBilling,
    Invoice,
    OwnerNotice,
    ReminderLog,
    ReminderStep,
)
from ruche.billing.selectors import with_balance
from ruche.core.exceptions import ValidationError
from ruche.core.history import Actor, Event, record_event
from ruche.core.money import round_half_up, to_major
from ruche.integrations.events import publish

JOB = Actor.for_job("billing reminders")
LogStatus = ReminderLog.Status
Status = Invoice.Status
Kind = Invoice.Kind
_ENGINE = Engine(autoescape=False)

_SIGNATURE = (
    "\n\nCordialement,\n{{ seller_name }}\n"
    "{% if iban %}IBAN : {{ iban }}{% if bic %} — BIC : {{ bic }}{% endif %}\n{% endif %}"
)
_LATE_TERMS = (
    "Conformément à l'article L441-10 du Code de commerce, ce retard de {{ days_late }} jours "
    "entraîne des pénalités de retard au taux annuel de {{ rate }} %, soit {{ interest }} à ce "
    "jour{% if fee_due %}, ainsi que l'indemnité forfaitaire pour frais de recouvrement de "
    "{{ fee }}{% endif %}. Montant total réclamé : {{ total_claimed }}.\n\n"
)
DEFAULT_STEPS = [
    {
        "offset_days": -3,
        "name": "Rappel avant échéance",
        "subject_template": "Rappel : facture {{ number }} à régler le {{ due_date }}",
        "body_template": (
            "Bonjour,\n\nNous vous rappelons que la facture {{ number }} du {{ issue_date }}, "
            "d'un montant restant dû de {{ balance }}, arrive à échéance le {{ due_date }} "
            "(dans {{ days_to_due }} jours).\n\nSi le règlement est déjà parti, merci de ne "
            "pas tenir compte de ce message." + _SIGNATURE
        ),
    },
    {
        "offset_days": 7,
        "name": "Première relance",
        "subject_template": "Facture {{ number }} échue le {{ due_date }}",
        "body_template": (
            "Bonjour,\n\nSauf erreur de notre part, la facture {{ number }} du {{ issue_date }}, "
            "échue le {{ due_date }}, reste impayée pour {{ balance }}.\n\n"
            + _LATE_TERMS
            + "Merci de procéder au règlement dans les meilleurs délais."
            + _SIGNATURE
        ),
    },
    {
        "offset_days": 15,
        "name": "Deuxième relance",
        "subject_template": "Deuxième relance : facture {{ number }} impayée",
        "body_template": (
            "Bonjour,\n\nMalgré notre précédent rappel, la facture {{ number }} du "
            "{{ issue_date }}, échue le {{ due_date }}, reste impayée pour {{ balance }}.\n\n"
            + _LATE_TERMS
            + "Merci de régulariser cette situation sous huit jours."
            + _SIGNATURE
        ),
    },
    {
        "offset_days": 30,
        "name": "Mise en demeure",
        "subject_template": "Mise en demeure de payer : facture {{ number }}",
        "body_template": (
            "Bonjour,\n\nLa facture {{ number }} du {{ issue_date }}, échue le {{ due_date }}, "
            "reste impayée pour {{ balance }} malgré nos relances.\n\n"
            + _LATE_TERMS
            + "À défaut de règlement sous huit jours, nous engagerons une procédure de "
            "recouvrement." + _SIGNATURE
        ),
    },
]


def ensure_default_steps(step_model=ReminderStep) -> None:
    """Create the default sequence when none exists (also run by the data migration)."""
    if not step_model.objects.exists():
        step_model.objects.bulk_create(step_model(**values) for values in DEFAULT_STEPS)


def check_template(value: str, field: str) -> str:
    try:
        _ENGINE.from_string(value)
    except TemplateSyntaxError as error:
        raise ValidationError({field: f"Not a valid template: {error}."}) from None
    return value


# Amounts ----------------------------------------------------------------------------------------


def late_rate(invoice: Invoice, profile: BillingProfile | None = None) -> Decimal:
    """The annual late-payment rate in percent printed on the invoice."""
    stated = (invoice.seller or {}).get("late_payment_rate")
    if stated not in (None, ""):
        return Decimal(str(stated))
    return (profile or BillingProfile.current()).late_payment_rate


def late_interest_minor(balance_minor: int, rate: Decimal, days_late: int) -> int:
    """Balance x rate % x days late / 365, rounded half up to the minor unit."""
    if balance_minor <= 0 or days_late <= 0:
        return 0
    return round_half_up(Decimal(balance_minor) * rate / 100 * days_late / 365)


def recovery_fee_minor(invoice: Invoice, days_late: int, profile: BillingProfile) -> int:
    if days_late <= 0 or not invoice.customer_is_business:
        return 0
    stated = (invoice.seller or {}).get("recovery_fee_minor")
    return int(stated) if stated not in (None, "") else profile.recovery_fee_minor


def _money(minor: int, currency: str) -> str:
    """French format with plain spaces (3 105,89 €): mail clients show them everywhere."""
    text = format_currency(to_major(minor, currency), currency, locale="fr_FR")
    return text.replace("\u202f", " ").replace("\xa0", " ")


def _date(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def customer_email(invoice: Invoice) -> str:
    if invoice.org_id:
        details = CustomerBilling.objects.filter(org_id=invoice.org_id).first()
        if details and details.email:
            return details.email
    person = getattr(invoice.deal, "person", None) if invoice.deal_id else None
    if person is not None:
        emails = [e for e in person.emails or [] if isinstance(e, dict) and e.get("value")]
        emails.sort(key=lambda e: not e.get("primary"))
        if emails:
            return emails[0]["value"]
    return ""


def reminder_context(invoice: Invoice, step: ReminderStep, today: dt.date, profile) -> dict:
    balance = invoice.balance_minor
    days_late = max((today - invoice.due_date).days, 0)
    rate = late_rate(invoice, profile)
    interest = late_interest_minor(balance, rate, days_late)
    fee = recovery_fee_minor(invoice, days_late, profile)
    seller = invoice.seller or {}
    currency = invoice.currency
    return {
        "number": invoice.number,
        "issue_date": _date(invoice.issue_date),
        "due_date": _date(invoice.due_date),
        "customer_name": invoice.customer_name,
        "total": _money(invoice.total_incl_vat_minor, currency),
        "balance": _money(balance, currency),
        "days_late": days_late,
        "days_to_due": max((invoice.due_date - today).days, 0),
        "rate": format_decimal(rate, locale="fr_FR"),
        "interest": _money(interest, currency),
        "fee": _money(fee, currency),
        "fee_due": fee > 0,
        "total_claimed": _money(balance + interest + fee, currency),
        "seller_name": seller.get("legal_name") or profile.legal_name,
        "iban": seller.get("iban") or profile.iban,
        "bic": seller.get("bic") or profile.bic,
        "step_name": step.name,
        "_amounts": {"balance": balance, "days": days_late, "interest": interest, "fee": fee},
    }


def render(template: str, context: dict) -> str:
    return _ENGINE.from_string(template).render(Context(context))


# The daily run ----------------------------------------------------------------------------------


def _open_invoices(today: dt.date):
    """Issued invoices and deposits with something left to pay."""
    return (
        with_balance(
            Invoice.objects.filter(
                issued_time__isnull=False,
                kind__in=(Kind.INVOICE, Kind.DEPOSIT),
                due_date__isnull=False,
            ),
            today,
        )
        .filter(balance_minor__gt=0)
        .exclude(status__in=(Status.PAID, Status.CREDITED))
    )


def _step_due(invoice: Invoice, steps: list[ReminderStep], sent: set[int], today: dt.date):
    """The latest step due today or before, unless it or a later one was already sent."""
    due = [s for s in steps if invoice.due_date + dt.timedelta(days=s.offset_days) <= today]
    if not due:
        return None
    latest = due[-1]
    if any(s.pk in sent for s in steps if s.offset_days >= latest.offset_days):
        return None
    return latest


def send_due_reminders(today: dt.date | None = None) -> dict:
    """Decide and send today's reminders and overdue notices. Safe to run any number of times."""
    today = today or timezone.localdate()
    ensure_default_steps()
    steps = list(ReminderStep.objects.filter(is_active=True).order_by("offset_days"))
    earliest = min((s.offset_days for s in steps), default=0)
    candidates = (
        _open_invoices(today)
        .filter(due_date__lte=today - dt.timedelta(days=earliest))
        .values_list("pk", flat=True)
    )
    decided = notices = 0
    for invoice_id in list(candidates.iterator()):
        decided += _decide_reminder(invoice_id, steps, today)
    for invoice_id in list(
        _open_invoices(today).filter(due_date__lt=today).values_list("pk", flat=True)
    ):
        notices += _notice_overdue(invoice_id, today)
    retried = _retry_failed()
    return {"reminders": decided, "overdue_notices": notices, "retried": retried}


def _decide_reminder(invoice_id: int, steps: list[ReminderStep], today: dt.date) -> int:
    with transaction.atomic():
        # Lock the invoice: payments (which lock it too) and other workers queue behind.
        Invoice.objects.select_for_update().filter(pk=invoice_id).values_list("pk").get()
        invoice = (
            _open_invoices(today)
            .select_related("deal__person", "deal__owner")
            .filter(pk=invoice_id)
        ).first()
        if invoice is None:  # paid or credited meanwhile
            return 0
        sent = set(
            ReminderLog.objects.filter(invoice_id=invoice_id).values_list("step_id", flat=True)
        )
        step = _step_due(invoice, steps, sent, today)
        if step is None:
            return 0
        profile = BillingProfile.current()
        context = reminder_context(invoice, step, today, profile)
        amounts = context.pop("_amounts")
        to_email = customer_email(invoice)
        try:
            with transaction.atomic():
                log = ReminderLog.objects.create(
                    invoice=invoice,
                    step=step,
                    date=today,
                    to_email=to_email,
                    subject=render(step.subject_template, context).strip(),
                    body=render(step.body_template, context),
                    balance_minor=amounts["balance"],
                    days_late=amounts["days"],
                    interest_minor=amounts["interest"],
                    fee_minor=amounts["fee"],
                    status=LogStatus.PENDING if to_email else LogStatus.NO_EMAIL,
                )
        except IntegrityError:
            return 0  # decided by a concurrent run
        value = {
            "reminder": log.pk,
            "step": step.name,
            "offset_days": step.offset_days,
            "to": to_email,
            "balance_minor": log.balance_minor,
            "interest_minor": log.interest_minor,
            "fee_minor": log.fee_minor,
        }
        record_event("invoice", invoice.pk, Event.REMINDER_SENT, JOB, "reminder", None, value)
        if invoice.deal_id:
            record_event(
                "deal",
                invoice.deal_id,
                Event.REMINDER_SENT,
                JOB,
                "reminder",
                None,
                value | {"invoice": invoice.pk, "number": invoice.number},
            )
        if to_email:
            transaction.on_commit(lambda: deliver_reminder(log.pk))
        return 1


def _send(to_email: str, subject: str, body: str, reply_to: str = "") -> None:
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to_email],
        reply_to=[reply_to] if reply_to else None,
    )
    message.send(fail_silently=False)


def _deliver(model, pk: int, retry: bool = False) -> bool:
    """Claim the row (pending → sending; failed → sending on retry), send, mark it sent. A row
    is claimed once, so its email goes at most once."""
    claimable = [LogStatus.PENDING] + ([LogStatus.FAILED] if retry else [])
    claimed = model.objects.filter(pk=pk, status__in=claimable).update(status=LogStatus.SENDING)
    if not claimed:
        return False
    row = model.objects.get(pk=pk)
    reply_to = (BillingProfile.current().email or "") if model is ReminderLog else ""
    try:
        _send(row.to_email, row.subject, row.body, reply_to)
    except Exception as error:  # any transport error: retried on the next run
        fields = {"status": LogStatus.FAILED}
        if model is ReminderLog:
            fields |= {"error": str(error)[:2000], "attempts": row.attempts + 1}
        model.objects.filter(pk=pk).update(**fields)
        return False
    fields = {"status": LogStatus.SENT, "sent_time": timezone.now()}
    if model is ReminderLog:
        fields["attempts"] = row.attempts + 1
    model.objects.filter(pk=pk).update(**fields)
    return True


def deliver_reminder(log_id: int, retry: bool = False) -> bool:
    return _deliver(ReminderLog, log_id, retry)


def deliver_notice(notice_id: int, retry: bool = False) -> bool:
    return _deliver(OwnerNotice, notice_id, retry)


MAX_ATTEMPTS = 5


def _retry_failed() -> int:
    retried = 0
    for pk in ReminderLog.objects.filter(
        status=LogStatus.FAILED, attempts__lt=MAX_ATTEMPTS
    ).values_list("pk", flat=True):
        retried += deliver_reminder(pk, retry=True)
    for pk in OwnerNotice.objects.filter(status=LogStatus.FAILED).values_list("pk", flat=True):
        retried += deliver_notice(pk, retry=True)
    return retried


# The deal owner's notices -----------------------------------------------------------------------


def _owner_email(invoice: Invoice) -> str:
    owner = invoice.deal.owner if invoice.deal_id else invoice.owner
    return getattr(owner, "email", "") or ""


def _create_notice(key: str, invoice: Invoice, subject: str, body: str) -> OwnerNotice | None:
    to_email = _owner_email(invoice)
    try:
        with transaction.atomic():
            notice = OwnerNotice.objects.create(
                key=key,
                invoice=invoice,
                to_email=to_email,
                subject=subject,
                body=body,
                status=LogStatus.PENDING if to_email else LogStatus.NO_EMAIL,
            )
    except IntegrityError:
        return None
    if to_email:
        transaction.on_commit(lambda: deliver_notice(notice.pk))
    return notice


def _notice_overdue(invoice_id: int, today: dt.date) -> int:
    key = f"overdue:{invoice_id}"
    if OwnerNotice.objects.filter(key=key).exists():
        return 0
    with transaction.atomic():
        invoice = (
            _open_invoices(today).select_related("deal__owner", "owner").filter(pk=invoice_id)
        ).first()
        if invoice is None or invoice.status != Status.OVERDUE:
            return 0
        days = (today - invoice.due_date).days
        deal = f" (affaire « {invoice.deal.title} »)" if invoice.deal_id else ""
        subject = f"Facture {invoice.number} en retard de paiement"
        body = (
            f"La facture {invoice.number} de {invoice.customer_name}{deal}, échue le "
            f"{_date(invoice.due_date)}, est en retard de {days} jours : "
            f"{_money(invoice.balance_minor, invoice.currency)} restent dus.\n"
        )
        if _create_notice(key, invoice, subject, body) is None:
            return 0
        publish("invoice.overdue", "invoice", invoice.pk)
        return 1


def notify_payment(payment) -> None:
    """Tell the deal owner about a payment, after the payment's transaction commits. Called by
    `payment_create` inside its transaction."""
    invoice = with_balance(
        Invoice.objects.filter(pk=payment.invoice_id).select_related("deal__owner", "owner")
    ).get()
    deal = f" (affaire « {invoice.deal.title} »)" if invoice.deal_id else ""
    subject = f"Règlement reçu : facture {invoice.number}"
    body = (
        f"{invoice.customer_name} a réglé {_money(payment.amount_minor, invoice.currency)} le "
        f"{_date(payment.date)} sur la facture {invoice.number}{deal}. Reste dû : "
        f"{_money(invoice.balance_minor, invoice.currency)}.\n"
    )
    _create_notice(f"payment:{payment.pk}", invoice, subject, body)


# Editing the sequence ---------------------------------------------------------------------------

STEP_FIELDS = ("offset_days", "name", "subject_template", "body_template", "is_active")


@transaction.atomic
def reminder_step_update(*, actor: Actor, step_id: int, data: dict) -> ReminderStep:
    """Change a step's delay, name, templates or activity (admins only)."""
    from ruche.core.exceptions import PermissionDenied
    from ruche.core.history import record_changes
    from ruche.core.services import lock
    from ruche.core.validation import changed_fields

    if actor.user is not None and not actor.user.is_admin:
        raise PermissionDenied("Only an admin changes the reminder sequence.")
    ensure_default_steps()
    step = lock(ReminderStep.objects.all(), step_id, label="Reminder step")
    values = {k: v for k, v in data.items() if k in STEP_FIELDS and v is not None}
    for field in ("subject_template", "body_template"):
        if field in values:
            check_template(values[field], field)
    if "offset_days" in values:
        offset = values["offset_days"]
        if not isinstance(offset, int) or isinstance(offset, bool) or not -60 <= offset <= 365:
            raise ValidationError({"offset_days": "Between -60 and 365 days."})
        if ReminderStep.objects.filter(offset_days=offset).exclude(pk=step.pk).exists():
            raise ValidationError({"offset_days": f"Another step is already at {offset} days."})
    changes = changed_fields(step, values, STEP_FIELDS)
    if changes:
        step.save()
        record_changes("reminder_step", step.pk, actor, changes)
    return step


def reminder_steps() -> list[ReminderStep]:
    ensure_default_steps()
    return list(ReminderStep.objects.order_by("offset_days"))
