from django import template

from ruche.web import formatting

register = template.Library()


@register.simple_tag
def money(amount_minor, currency):
    return formatting.money(amount_minor, currency)


@register.filter
def day(value):
    return formatting.date(value)


@register.filter
def moment(value):
    return formatting.datetime(value)


@register.filter
def number(value):
    return formatting.number(value)


@register.filter
def get(mapping, key):
    return mapping.get(key) if mapping else None
