"""Usage, prices and budgets.

``UsageDaily`` is the rollup every finished model call adds to (one upsert in the transaction that finalises the
answer). ``ModelPrice`` rows are a version's price history: a price applies from its date on. ``TenantBudget`` and
``UserLimit`` are what the engine enforces before the upstream call (docs/usage.md).
"""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from llm.models import ModelVersion
from tenants.models import TenantScopedModel

currency_validator = RegexValidator(r"^[A-Z]{3}$", _("Enter a three-letter currency code such as USD or JPY."))
TIME_ZONES = sorted((name, name) for name in zoneinfo.available_timezones() if "/" in name or name == "UTC")


class ModelPrice(models.Model):
    """What a model version costs per million tokens, from ``effective_from`` (a local date) until the next row."""

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="prices", verbose_name=_("model version")
    )
    effective_from = models.DateField(_("applies from"))
    currency = models.CharField(
        _("currency"), max_length=3, default=settings.USAGE_DEFAULT_CURRENCY, validators=[currency_validator]
    )
    input_per_million = models.DecimalField(_("input per 1M tokens"), max_digits=12, decimal_places=4)
    cached_input_per_million = models.DecimalField(
        _("cached input per 1M tokens"),
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_("Prompt tokens served from the provider's cache. Empty: the input price."),
    )
    output_per_million = models.DecimalField(
        _("output per 1M tokens"),
        max_digits=12,
        decimal_places=4,
        help_text=_("Reasoning tokens are billed as output."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("price")
        verbose_name_plural = _("prices")
        ordering = ["model_version", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["model_version", "effective_from"], name="price_one_per_version_day")
        ]

    def __str__(self) -> str:
        return f"{self.model_version} from {self.effective_from}"


class UsageDaily(TenantScopedModel):
    """One day x person x model x channel x deployment x outcome of a tenant. Counters only grow; ``usage_rebuild``
    recomputes a day range from the messages."""

    day = models.DateField()  # in the tenant's time zone (TenantBudget.time_zone)
    speaker = models.CharField(max_length=120)  # Message.speaker: user:<id>, or slack:<team>:<member>
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    speaker_email = models.CharField(max_length=254, blank=True)
    model_label = models.CharField(max_length=200)
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL)
    channel = models.CharField(max_length=16)  # web | slack
    deployment = models.CharField(max_length=100, blank=True)  # the deployment that answered
    # ok, length, stopped, prompt_filtered, completion_filtered, truncated, interrupted, or error:<kind>
    outcome = models.CharField(max_length=48)
    requests = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    cached_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    reasoning_tokens = models.BigIntegerField(default=0)
    estimated_requests = models.BigIntegerField(default=0)  # requests whose tokens were estimated, not reported
    ttft_ms_sum = models.BigIntegerField(default=0)
    ttft_count = models.BigIntegerField(default=0)
    duration_ms_sum = models.BigIntegerField(default=0)
    # Millionths of the currency: integer sums are exact on every database.
    cost_micros = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, blank=True)

    KEY = ("tenant_id", "day", "speaker", "model_label", "channel", "deployment", "outcome")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "day", "speaker", "model_label", "channel", "deployment", "outcome"],
                name="usage_daily_key",
            )
        ]
        indexes = [models.Index(fields=["tenant", "day"], name="usage_tenant_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.speaker} {self.model_label} {self.channel} {self.outcome}"


class TenantBudget(TenantScopedModel):
    """A company's budgets and the defaults for its people. Empty fields: no limit."""

    tenant = models.OneToOneField(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="budget", verbose_name=_("company")
    )
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        choices=TIME_ZONES,
        default=settings.TIME_ZONE,
        help_text=_("Days and months of usage and budgets start at midnight here."),
    )
    monthly_tokens = models.PositiveBigIntegerField(_("company tokens per month"), null=True, blank=True)
    monthly_cost = models.DecimalField(
        _("company cost per month"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(
        _("budget currency"),
        max_length=3,
        default=settings.USAGE_DEFAULT_CURRENCY,
        validators=[currency_validator],
        help_text=_("The cost budget counts model prices in this currency."),
    )
    user_daily_tokens = models.PositiveBigIntegerField(_("tokens per person per day"), null=True, blank=True)
    user_monthly_tokens = models.PositiveBigIntegerField(_("tokens per person per month"), null=True, blank=True)
    user_requests_per_minute = models.PositiveIntegerField(_("messages per person per minute"), null=True, blank=True)
    contact = models.CharField(
        _("whom to ask"),
        max_length=200,
        blank=True,
        help_text=_("Shown when a budget runs out, e.g. an email address. Empty: the company's administrators."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    # The company-wide budget is the operator's (it pays the bill); the per-person defaults are the company's.
    OPERATOR_FIELDS = ("monthly_tokens", "monthly_cost", "currency")

    class Meta:
        verbose_name = _("budget")
        verbose_name_plural = _("budgets")

    def __str__(self) -> str:
        return str(_("Budget of %(company)s") % {"company": self.tenant})


class UserLimit(TenantScopedModel):
    """A person's own limits, overriding the company's defaults. Empty fields: the company default."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_limit", verbose_name=_("person")
    )
    daily_tokens = models.PositiveBigIntegerField(_("tokens per day"), null=True, blank=True)
    monthly_tokens = models.PositiveBigIntegerField(_("tokens per month"), null=True, blank=True)
    requests_per_minute = models.PositiveIntegerField(_("messages per minute"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("personal limit")
        verbose_name_plural = _("personal limits")

    def __str__(self) -> str:
        return str(self.user)
