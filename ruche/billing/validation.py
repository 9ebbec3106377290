"""Checks of French company identifiers and bank details, with python-stdnum."""

from stdnum import bic, iban
from stdnum.eu import vat
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siren, siret

from ruche.core.exceptions import ValidationError

VALIDATORS = {
    "siren": siren,
    "siret": siret,
    "vat_number": vat,
    "customer_siren": siren,
    "customer_vat_number": vat,
    "iban": iban,
    "bic": bic,
}
LABELS = {
    "siren": "SIREN",
    "siret": "SIRET",
    "vat_number": "VAT number",
    "customer_siren": "SIREN",
    "customer_vat_number": "VAT number",
    "iban": "IBAN",
    "bic": "BIC",
}


def clean_identifier(field: str, value) -> str:
    """The compact, validated form of `value`, or "" for an empty value."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise ValidationError({field: f"Text is expected, not {value!r}."})
    module = VALIDATORS[field]
    try:
        return module.validate(value)
    except StdnumError as error:
        raise ValidationError({field: f"Not a valid {LABELS[field]}: {error}"}) from None


def clean_identifiers(values: dict) -> dict:
    for field in VALIDATORS:
        if field in values:
            values[field] = clean_identifier(field, values[field])
    return values
