"""Filters of the audit pages and exports. The one place where filter values are validated: the list page, the
download, the Celery job (re-checks what it stored) and the management command all go through these forms."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from audit.models import Channel, LLMStatus

# Outside this range a local midnight cannot be converted to UTC (year 0 / 10000); nobody audits 1969 anyway.
MIN_DATE = date(1970, 1, 1)
MAX_DATE = date(9999, 12, 30)
FORMATS = (("csv", "CSV"), ("xlsx", "Excel (XLSX)"), ("jsonl", "JSONL"))


def _date_field(label: StrOrPromise) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class CaseInsensitiveChoiceField(forms.ChoiceField):
    """A picker that also takes ``Error`` or ``WEB`` typed into a URL: the values are lower case."""

    def to_python(self, value: Any) -> str:
        return str(super().to_python(value)).strip().lower()


def _picker(label: StrOrPromise, max_length: int, suggestions: str) -> forms.CharField:
    # A searchable picker: a text field with the values seen in this trail offered as a <datalist> (the page
    # renders it), so a long list of people stays usable and a value not offered still filters.
    return forms.CharField(
        label=label,
        required=False,
        max_length=max_length,
        widget=forms.TextInput(attrs={"list": f"audit-{suggestions}-options", "autocomplete": "off"}),
    )


class AuditFilterForm(forms.Form):
    date_from = _date_field(_("From"))
    date_to = _date_field(_("To"))
    event_type = _picker(_("Event"), 80, "event_type")
    status = CaseInsensitiveChoiceField(label=_("Status"), required=False, choices=[("", _("Any")), *LLMStatus.choices])
    channel = CaseInsensitiveChoiceField(label=_("Channel"), required=False, choices=[("", _("Any")), *Channel.choices])
    model = _picker(_("Model"), 200, "model")
    user = _picker(_("User"), 254, "user")
    q = forms.CharField(label=_("Text"), required=False, max_length=200)

    FILTER_NAMES = ("date_from", "date_to", "user", "channel", "model", "status", "event_type", "q")

    def _clean_date(self, name: str) -> date | None:
        value: date | None = self.cleaned_data.get(name)
        if value is not None and not MIN_DATE <= value <= MAX_DATE:
            raise forms.ValidationError(
                _("Enter a date between %(min)s and %(max)s."),
                params={"min": MIN_DATE.isoformat(), "max": MAX_DATE.isoformat()},
                code="out_of_range",
            )
        return value

    def clean_date_from(self) -> date | None:
        return self._clean_date("date_from")

    def clean_date_to(self) -> date | None:
        return self._clean_date("date_to")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", _("The end date is before the start date."))
        return data

    def filters(self) -> dict[str, Any]:
        """The valid, non-empty filters, typed (for the selector)."""
        return {name: self.cleaned_data[name] for name in self.FILTER_NAMES if self.cleaned_data.get(name)}

    def filters_json(self) -> dict[str, str]:
        """The same filters JSON-safe (dates as YYYY-MM-DD): stored on jobs, written to the manifest."""
        return {
            name: value.isoformat() if isinstance(value, date) else str(value) for name, value in self.filters().items()
        }


class AuditExportForm(AuditFilterForm):
    format = forms.ChoiceField(label=_("Format"), choices=FORMATS)
    include_files = forms.BooleanField(label=_("With the attached files"), required=False)


def filters_from_json(data: dict[str, Any]) -> dict[str, Any]:
    """Stored (JSON) filters back to typed ones; ValueError if they no longer validate."""
    form = AuditFilterForm(data=data)
    if not form.is_valid():
        raise ValueError(f"invalid filters: {form.errors.as_json()}")
    return form.filters()
