"""Numbers on the usage pages, grouped in the reader's language (1,600 in English and Japanese alike)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import formats

register = template.Library()


@register.filter
def grouped(value: Any, decimals: int | None = None) -> str:
    if value in (None, ""):
        return "\u2013"  # an en dash: no value
    return str(formats.number_format(value, decimal_pos=decimals, use_l10n=True, force_grouping=True))
