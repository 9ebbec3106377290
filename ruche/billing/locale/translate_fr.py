# ruff: noqa: RUF001 - French typography: the other catalogs write the typographic apostrophe
"""Fill the French catalog of billing from this table: `python ruche/billing/locale/translate_fr.py`
after `makemessages`. Every msgid of the catalog must be here (the script says which are not)."""

from pathlib import Path

from babel.messages.pofile import read_po, write_po

FRENCH = {
    "Customer": "Client",
    "Change the customer": "Changer de client",
    "Change": "Changer",
    "Filters": "Filtres",
    "Status": "Statut",
    "All": "Toutes",
    "Filter": "Filtrer",
    "Export CSV": "Exporter en CSV",
    "Export XLSX": "Exporter en XLSX",
    "Lines": "Lignes",
    "Title": "Intitulé",
    "Valid until": "Valable jusqu’au",
    "Description": "Description",
    "Quantity": "Quantité",
    "Unit": "Unité",
    "Unit price excl. VAT": "Prix unitaire HT",
    "Discount (%%)": "Remise (%%)",
    "VAT rate (%%)": "Taux de TVA (%%)",
    "VAT exemption mention": "Mention d'exonération de TVA",
    "Clear a line's description to remove it. Totals are computed when you save. At 0 %% VAT, "
    "the exemption mention is required (the company's default is used when left empty).": (
        "Videz la désignation d'une ligne pour la supprimer. Les totaux sont calculés à "
        "l'enregistrement. À 0 %% de TVA, la mention d'exonération est obligatoire (celle de "
        "l'entreprise est reprise si le champ reste vide)."
    ),
    "Save and recalculate": "Enregistrer et recalculer",
    "Total excl. VAT": "Total HT",
    "VAT %(rate)s %%": "TVA %(rate)s %%",
    "Total VAT": "Total TVA",
    "Total incl. VAT": "Total TTC",
    "Billing": "Facturation",
    "Quotes": "Devis",
    "Invoices": "Factures",
    "Credit notes": "Avoirs",
    "Payments and cash-in": "Règlements et encaissements",
    "Pages": "Pages",
    "Previous": "Précédent",
    "Page %(number)s of %(count)s": "Page %(number)s sur %(count)s",
    "Next": "Suivant",
    "How customers pay": "Comment les clients paient",
    "Per customer": "Par client",
    "Per segment (industry)": "Par segment (secteur)",
    "Segment": "Segment",
    "Paid invoices": "Factures payées",
    "Average days to pay": "Délai moyen de paiement (jours)",
    "Average days late": "Retard moyen (jours)",
    "Paid late": "Payées en retard",
    "Unspecified": "Non renseigné",
    "No paid invoice yet.": "Aucune facture payée pour l'instant.",
    "Over fully paid invoices: days from the issue date to the last payment; days late count "
    "from the due date (0 when paid on time).": (
        "Sur les factures entièrement payées : jours entre la date d'émission et le dernier "
        "règlement ; le retard se compte depuis l'échéance (0 si payée à temps)."
    ),
    "Expected cash-in per week": "Encaissements attendus par semaine",
    "Due": "Échéance",
    "Amount due": "Montant dû",
    "Overdue": "En retard",
    "Week of %(day)s": "Semaine du %(day)s",
    "Later": "Plus tard",
    "Nothing due.": "Rien à encaisser.",
    "Draft": "Brouillon",
    "Date": "Date",
    "Due date": "Échéance",
    "Not issued yet: no number, still editable.": (
        "Pas encore émise : sans numéro, encore modifiable."
    ),
    "Deal": "Affaire",
    "Quote": "Devis",
    "Corrects invoice": "Corrige la facture",
    "Deposit of %(percent)s %%": "Acompte de %(percent)s %%",
    "Make a credit note": "Faire un avoir",
    "Issue": "Émettre",
    "Delete the draft": "Supprimer le brouillon",
    "Payments": "Règlements",
    "Method": "Moyen de paiement",
    "Reference": "Référence",
    "Amount": "Montant",
    "No payment yet.": "Aucun règlement pour l'instant.",
    "Amount paid": "Montant payé",
    "Credited": "Annulée par avoir",
    "Balance due": "Reste dû",
    "Record the payment": "Enregistrer le règlement",
    "New invoice": "Nouvelle facture",
    "No.": "N°",
    "Type": "Type",
    "No credit note.": "Aucun avoir.",
    "No invoice.": "Aucune facture.",
    "New quote": "Nouveau devis",
    "The lines are added on the next page.": "Les lignes s'ajoutent sur la page suivante.",
    "Create": "Créer",
    "Newer revision": "Révision plus récente",
    "Mark as sent": "Marquer comme envoyé",
    "Delete": "Supprimer",
    "Accept": "Accepter",
    "Decline": "Refuser",
    "Make the invoice": "Établir la facture",
    "New revision": "Nouvelle révision",
    "Send by email": "Envoyer par e-mail",
    "Email address": "Adresse e-mail",
    "The customer's billing email": "L'e-mail de facturation du client",
    "Message": "Message",
    "Send the quote with its PDF": "Envoyer le devis avec son PDF",
    "No quote.": "Aucun devis.",
    "Refused": "Refusé",
    "This could not be done": "Cette action n'a pas pu être faite",
    "Back to the deal": "Retour à l'affaire",
    "Show": "Afficher",
    "No quote or invoice yet.": "Aucun devis ni facture pour l’instant.",
    "New quote from the deal's lines": "Nouveau devis à partir des lignes de l’affaire",
    "Invoice type": "Type de facture",
    "Full amount": "Montant total",
    "Deposit": "Acompte",
    "Balance (less deposits)": "Solde (acomptes déduits)",
    "Deposit (%%)": "Acompte (%%)",
    "All quotes": "Tous les devis",
    "All invoices": "Toutes les factures",
    "Sent": "Envoyé",
    "Accepted": "Accepté",
    "Declined": "Refusé",
    "Expired": "Expiré",
    "Issued": "Émise",
    "Partly paid": "Partiellement payée",
    "Paid": "Payée",
    "Invoice": "Facture",
    "Deposit invoice": "Facture d’acompte",
    "Credit note": "Avoir",
    "unit": "unité",
    "hour": "heure",
    "day": "jour",
    "month": "mois",
    "year": "an",
    "kg": "kg",
    "m": "m",
    "l": "l",
    "lump sum": "forfait",
    "Bank transfer": "Virement",
    "Card": "Carte",
    "Cheque": "Chèque",
    "Cash": "Espèces",
    "Direct debit": "Prélèvement",
    "Other": "Autre",
    "Discount (%)": "Remise (%)",
    "VAT rate (%)": "Taux de TVA (%)",
    "Deposit (%)": "Acompte (%)",
    "Customer name": "Nom du client",
    "Customer address": "Adresse du client",
    "Customer postal code": "Code postal du client",
    "Customer city": "Ville du client",
    "Customer SIREN": "SIREN du client",
    "A line needs a name or a product.": "Une ligne a besoin d'une désignation ou d'un produit.",
    "A unit price is required.": "Un prix unitaire est obligatoire.",
    "A VAT rate is required.": "Un taux de TVA est obligatoire.",
    "A 0% line needs its exemption mention.": (
        "Une ligne à 0 % a besoin de sa mention d'exonération."
    ),
    "A unit price cannot be negative.": "Un prix unitaire ne peut pas être négatif.",
    "An invoice needs at least one line.": "Une facture a besoin d'au moins une ligne.",
    "A quote needs at least one line to be sent.": (
        "Un devis a besoin d'au moins une ligne pour être envoyé."
    ),
    "A quote needs a customer to be sent.": "Un devis a besoin d'un client pour être envoyé.",
    "Required on an invoice.": "Obligatoire sur une facture.",
    "Required on every invoice.": "Obligatoire sur toute facture.",
    "A French business customer's SIREN is required (2026 reform).": (
        "Le SIREN d'un client professionnel français est obligatoire (réforme 2026)."
    ),
    "A payment amount is positive.": "Le montant d'un règlement est positif.",
    "An amount is required.": "Un montant est obligatoire.",
    "A payment cannot be dated in the future.": "Un règlement ne peut pas être daté dans le futur.",
    "Only a won deal is invoiced.": "Seule une affaire gagnée est facturée.",
    "The customer has no email address: give one.": (
        "Le client n'a pas d'adresse e-mail : indiquez-en une."
    ),
    "A credit note's total must be positive.": "Le total d'un avoir doit être positif.",
    "Line %(number)s — %(field)s": "Ligne %(number)s — %(field)s",
    "Quote saved; totals recalculated.": "Devis enregistré ; totaux recalculés.",
    "Quote marked as sent.": "Devis marqué comme envoyé.",
    "Quote accepted; the deal is won at its amount.": (
        "Devis accepté ; l'affaire est gagnée à son montant."
    ),
    "Quote declined.": "Devis refusé.",
    "New revision created.": "Nouvelle révision créée.",
    "Quote sent by email.": "Devis envoyé par e-mail.",
    "Quote deleted.": "Devis supprimé.",
    "Invoice saved; totals recalculated.": "Facture enregistrée ; totaux recalculés.",
    "Customer changed.": "Client changé.",
    "Draft deleted.": "Brouillon supprimé.",
    "Issued: the number is final.": "Émise : le numéro est définitif.",
    "Payment recorded.": "Règlement enregistré.",
    "Draft credit note created.": "Brouillon d'avoir créé.",
}


# Billing's catalog is read before those of the apps listed after it in INSTALLED_APPS (transfer,
# web): a msgid they also translate must read the same here, or it would change their pages.


def main() -> None:
    path = Path(__file__).parent / "fr" / "LC_MESSAGES" / "django.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale="fr")
    catalog.fuzzy = False
    catalog.project = "Ruche"
    missing = []
    for message in catalog:
        if not message.id:
            continue
        if message.id not in FRENCH:
            missing.append(message.id)
            continue
        message.string = FRENCH[message.id]
        message.flags.discard("fuzzy")
        if "%(" not in message.id and "%%" not in message.id:  # "0% line" is no placeholder
            message.flags.discard("python-format")
    with path.open("wb") as target:
        write_po(target, catalog, width=100, omit_header=False)
    if missing:
        raise SystemExit("Untranslated: " + repr(missing))


if __name__ == "__main__":
    main()
