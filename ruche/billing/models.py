"""Quotes, invoices, credit notes and payments.

Amounts are integer minor units of the document's currency (ruche.core.money). The rounding
rule is written in docs/billing.md and implemented once, in ruche.billing.totals.

An issued invoice (or credit note) is frozen: its row and its lines refuse every change and
deletion, whichever path tries (services, API, admin, bulk querysets). Payments and credit notes
are separate rows that point at it; its balance and status are computed from them.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from ruche.core.models import TimestampedModel

VAT_RATES = (Decimal("20"), Decimal("10"), Decimal("5.5"), Decimal("2.1"), Decimal("0"))
MAX_PAYMENT_TERMS_DAYS = 60


class FrozenError(RuntimeError):
    """A write reached an issued invoice by a path that bypasses the services."""


class BillingProfile(models.Model):
    """The seller: the one company this instance invoices for (a single row, pk=1)."""

    legal_name = models.CharField(max_length=255, blank=True)
    trade_name = models.CharField(max_length=255, blank=True)
    address = models.CharField(max_length=500, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=120, blank=True)
    country = models.CharField(max_length=2, default="FR")
    siren = models.CharField(max_length=9, blank=True)
    siret = models.CharField(max_length=14, blank=True)
    vat_number = models.CharField(max_length=20, blank=True)
    legal_form = models.CharField(max_length=64, blank=True, help_text="SAS, SARL, SA, EI...")
    share_capital_minor = models.BigIntegerField(null=True, blank=True)
    rcs = models.CharField(max_length=120, blank=True, help_text="RCS Lyon 123 456 789")
    iban = models.CharField(max_length=34, blank=True)
    bic = models.CharField(max_length=11, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    payment_terms_days = models.PositiveSmallIntegerField(
        default=30, validators=[MaxValueValidator(MAX_PAYMENT_TERMS_DAYS)]
    )
    # Annual late-payment interest rate in percent: the ECB refinancing rate plus 10 points.
    late_payment_rate = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("12.15")
    )
    recovery_fee_minor = models.BigIntegerField(default=4000)
    vat_on_debits = models.BooleanField(
        default=False, help_text="Option pour le paiement de la taxe d'après les débits."
    )
    quote_validity_days = models.PositiveSmallIntegerField(default=30)
    default_exemption_reason = models.CharField(
        max_length=255, default="TVA non applicable, art. 293 B du CGI"
    )
    version = models.PositiveIntegerField(default=1)
    update_time = models.DateTimeField(default=timezone.now)

    @classmethod
    def current(cls) -> "BillingProfile":
        profile, _ = cls.objects.get_or_create(pk=1)
        return profile

    def snapshot(self) -> dict:
        """The seller's details as JSON, frozen onto each issued document."""
        values = {
            field.name: field.value_from_object(self)
            for field in self._meta.fields
            if field.name not in ("id", "version", "update_time")
        }
        return values | {"late_payment_rate": str(self.late_payment_rate)}


class CustomerBilling(models.Model):
    """What billing adds to an organisation: its billing and delivery addresses. The SIREN and
    VAT number stay on the organisation; empty billing fields mean the organisation's address."""

    org = models.OneToOneField(
        "contacts.Organization", on_delete=models.CASCADE, related_name="billing"
    )
    billing_name = models.CharField(max_length=255, blank=True)
    billing_address = models.CharField(max_length=500, blank=True)
    billing_postal_code = models.CharField(max_length=20, blank=True)
    billing_city = models.CharField(max_length=120, blank=True)
    billing_country = models.CharField(max_length=2, blank=True)
    delivery_name = models.CharField(max_length=255, blank=True)
    delivery_address = models.CharField(max_length=500, blank=True)
    delivery_postal_code = models.CharField(max_length=20, blank=True)
    delivery_city = models.CharField(max_length=120, blank=True)
    delivery_country = models.CharField(max_length=2, blank=True)
    is_business = models.BooleanField(default=True)
    email = models.EmailField(blank=True)


class NumberSeries(models.Model):
    """A chronological, continuous numbering series. Issuing locks this row for the rest of its
    transaction (select_for_update), so two issuers can never take the same number and a rolled
    back issue gives its number back."""

    class Key(models.TextChoices):
        QUOTE = "quote"
        INVOICE = "invoice"
        CREDIT_NOTE = "credit_note"

    key = models.CharField(max_length=16, choices=Key.choices, unique=True)
    prefix = models.CharField(max_length=16)
    restart_yearly = models.BooleanField(default=True)
    padding = models.PositiveSmallIntegerField(default=5, validators=[MaxValueValidator(12)])
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    last_number = models.PositiveIntegerField(default=0)
    last_date = models.DateField(null=True, blank=True)


class CustomerSnapshot(models.Model):
    """The customer as it was when the document was made: later edits of the organisation do
    not change a sent quote or an issued invoice."""

    org = models.ForeignKey(
        "contacts.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    customer_name = models.CharField(max_length=255, blank=True)
    customer_address = models.CharField(max_length=500, blank=True)
    customer_postal_code = models.CharField(max_length=20, blank=True)
    customer_city = models.CharField(max_length=120, blank=True)
    customer_country = models.CharField(max_length=2, blank=True, default="FR")
    customer_siren = models.CharField(max_length=9, blank=True)
    customer_vat_number = models.CharField(max_length=20, blank=True)
    customer_is_business = models.BooleanField(default=True)
    delivery_name = models.CharField(max_length=255, blank=True)
    delivery_address = models.CharField(max_length=500, blank=True)
    delivery_postal_code = models.CharField(max_length=20, blank=True)
    delivery_city = models.CharField(max_length=120, blank=True)
    delivery_country = models.CharField(max_length=2, blank=True)

    class Meta:
        abstract = True

    @property
    def has_delivery_address(self) -> bool:
        """A delivery address is stated only when it differs from the billing address."""
        delivery = (self.delivery_address, self.delivery_postal_code, self.delivery_city)
        billing = (self.customer_address, self.customer_postal_code, self.customer_city)
        return bool(self.delivery_address) and delivery != billing


class Nature(models.TextChoices):
    GOODS = "goods", "Livraison de biens"
    SERVICES = "services", "Prestation de services"
    MIXED = "mixed", "Biens et services"


class BillingDocument(CustomerSnapshot, TimestampedModel):
    deal = models.ForeignKey(
        "pipelines.Deal", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3, default="EUR")
    nature = models.CharField(max_length=8, choices=Nature.choices, default=Nature.SERVICES)
    title = models.CharField(max_length=255, blank=True)
    notes = models.TextField(blank=True)
    total_excl_vat_minor = models.BigIntegerField(default=0)
    total_vat_minor = models.BigIntegerField(default=0)
    total_incl_vat_minor = models.BigIntegerField(default=0)
    # [{"rate": "20", "category": "S", "base_minor": ..., "vat_minor": ..., "exemption": ""}]
    vat_breakdown = models.JSONField(default=list, blank=True)
    # The seller's billing profile as it was when the document was sent or issued.
    seller = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True


class DocumentLine(models.Model):
    class Unit(models.TextChoices):
        """UN/ECE recommendation 20 codes, as Factur-X states them."""

        UNIT = "C62", "unité"
        HOUR = "HUR", "heure"
        DAY = "DAY", "jour"
        MONTH = "MON", "mois"
        YEAR = "ANN", "an"
        KILOGRAM = "KGM", "kg"
        METRE = "MTR", "m"
        LITRE = "LTR", "l"
        LUMP_SUM = "LS", "forfait"

    order_nr = models.PositiveIntegerField(default=0)
    product = models.ForeignKey(
        "catalog.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    quantity = models.DecimalField(max_digits=15, decimal_places=4)
    unit = models.CharField(max_length=3, choices=Unit.choices, default=Unit.UNIT)
    unit_price_minor = models.BigIntegerField()
    discount_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    vat_rate = models.DecimalField(max_digits=4, decimal_places=2)
    exemption_reason = models.CharField(max_length=255, blank=True)
    total_minor = models.BigIntegerField()

    class Meta:
        abstract = True
        ordering = ["order_nr", "id"]


# Quotes -----------------------------------------------------------------------------------------


class Quote(BillingDocument):
    class Status(models.TextChoices):
        DRAFT = "draft"
        SENT = "sent"
        ACCEPTED = "accepted"
        DECLINED = "declined"
        EXPIRED = "expired"

    number = models.CharField(max_length=40, db_index=True)
    # A revision keeps the number and takes the next revision; `version` is the row's ETag.
    revision = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    issue_date = models.DateField(default=timezone.localdate)
    valid_until = models.DateField()
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sent_time = models.DateTimeField(null=True, blank=True)
    accepted_time = models.DateTimeField(null=True, blank=True)
    declined_time = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["number", "revision"], name="quote_number_revision")
        ]

    @property
    def reference(self) -> str:
        return f"{self.number}-V{self.revision}"


class QuoteLine(DocumentLine):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")

    class Meta(DocumentLine.Meta):
        pass


# Invoices and credit notes ----------------------------------------------------------------------


class FrozenQuerySet(models.QuerySet):
    """Bulk updates and deletes would bypass the instance guards; refuse them when they reach
    an issued document."""

    frozen_filter: dict = {}

    def _refuse_frozen(self) -> None:
        if self.filter(**self.frozen_filter).exists():
            raise FrozenError("An issued invoice cannot be modified or deleted.")

    def update(self, **kwargs):
        self._refuse_frozen()
        return super().update(**kwargs)

    def delete(self):
        self._refuse_frozen()
        return super().delete()


class InvoiceQuerySet(FrozenQuerySet):
    frozen_filter = {"issued_time__isnull": False}


class InvoiceLineQuerySet(FrozenQuerySet):
    frozen_filter = {"invoice__issued_time__isnull": False}


class Invoice(BillingDocument):
    """An invoice, a deposit invoice or a credit note (avoir). Only a draft may change."""

    class Kind(models.TextChoices):
        INVOICE = "invoice"
        DEPOSIT = "deposit"
        CREDIT_NOTE = "credit_note"

    class Status(models.TextChoices):
        DRAFT = "draft"
        ISSUED = "issued"
        PARTIALLY_PAID = "partially_paid"
        PAID = "paid"
        OVERDUE = "overdue"
        CREDITED = "credited"

    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.INVOICE)
    # Empty until issued; then unique within its series.
    number = models.CharField(max_length=40, blank=True)
    issued_time = models.DateTimeField(null=True, blank=True)
    issue_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    payment_terms_days = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(MAX_PAYMENT_TERMS_DAYS)]
    )
    delivery_date = models.DateField(null=True, blank=True)
    quote = models.ForeignKey(
        Quote, null=True, blank=True, on_delete=models.PROTECT, related_name="invoices"
    )
    credited_invoice = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="credit_notes"
    )
    deposit_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    # Deposit invoices deducted by this (balance) invoice.
    deducted_deposits = models.ManyToManyField("self", blank=True, symmetrical=False)
    vat_on_debits = models.BooleanField(default=False)

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "number"],
                condition=~models.Q(number=""),
                name="invoice_unique_number",
            )
        ]
        indexes = [models.Index(fields=["deal", "kind"], name="invoice_deal_kind")]

    def save(self, *args, **kwargs):
        if self.is_frozen:
            raise FrozenError(f"Invoice {self.number} is issued: it cannot be modified.")
        super().save(*args, **kwargs)
        self._frozen = self.issued_time is not None

    def delete(self, *args, **kwargs):
        if self.is_frozen or self.issued_time is not None:
            raise FrozenError(f"Invoice {self.number} is issued: it cannot be deleted.")
        return super().delete(*args, **kwargs)

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._frozen = instance.issued_time is not None
        return instance

    @property
    def is_frozen(self) -> bool:
        return getattr(self, "_frozen", False)

    @property
    def type_code(self) -> str:
        return {"invoice": "380", "deposit": "386", "credit_note": "381"}[self.kind]


class InvoiceLine(DocumentLine):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")

    objects = InvoiceLineQuerySet.as_manager()

    class Meta(DocumentLine.Meta):
        pass

    def save(self, *args, **kwargs):
        self._refuse_if_issued()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._refuse_if_issued()
        return super().delete(*args, **kwargs)

    def _refuse_if_issued(self) -> None:
        if Invoice.objects.filter(pk=self.invoice_id, issued_time__isnull=False).exists():
            raise FrozenError("The lines of an issued invoice cannot be modified.")


class Payment(TimestampedModel):
    class Method(models.TextChoices):
        TRANSFER = "transfer"
        CARD = "card"
        CHEQUE = "cheque"
        CASH = "cash"
        DIRECT_DEBIT = "direct_debit"
        OTHER = "other"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    date = models.DateField()
    amount_minor = models.BigIntegerField()
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.TRANSFER)
    reference = models.CharField(max_length=255, blank=True)
    note = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    is_deleted = models.BooleanField(default=False)

    class Meta:
        ordering = ["date", "id"]


# Reminders (relances) ---------------------------------------------------------------------------


class ReminderStep(models.Model):
    """One step of the reminder sequence: sent `offset_days` after the due date (negative:
    before it). Subject and body are Django template strings (ruche.billing.reminders lists the
    variables they may use)."""

    offset_days = models.SmallIntegerField(unique=True)
    name = models.CharField(max_length=120)
    subject_template = models.CharField(max_length=500)
    body_template = models.TextField()
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["offset_days"]

    def __str__(self) -> str:
        return self.name


class ReminderLog(models.Model):
    """A reminder decided for an invoice at one step. Unique per (invoice, step): written in the
    transaction that decides it, so no step is ever sent twice; the email goes after commit."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"
        NO_EMAIL = "no_email"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="reminders")
    step = models.ForeignKey(ReminderStep, on_delete=models.PROTECT, related_name="logs")
    date = models.DateField()
    to_email = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=500)
    body = models.TextField()
    balance_minor = models.BigIntegerField()
    days_late = models.IntegerField(default=0)
    interest_minor = models.BigIntegerField(default=0)
    fee_minor = models.BigIntegerField(default=0)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_time = models.DateTimeField(default=timezone.now)
    sent_time = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "step"], name="reminder_once_per_step")
        ]


class OwnerNotice(models.Model):
    """An email to a deal owner about a payment or an overdue invoice; `key` makes each one
    unique ("payment:<id>", "overdue:<invoice id>")."""

    key = models.CharField(max_length=64, unique=True)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="+")
    to_email = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=500)
    body = models.TextField()
    status = models.CharField(
        max_length=8, choices=ReminderLog.Status.choices, default=ReminderLog.Status.PENDING
    )
    created_time = models.DateTimeField(default=timezone.now)
    sent_time = models.DateTimeField(null=True, blank=True)
