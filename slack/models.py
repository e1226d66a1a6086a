"""One Slack app per company, and the Events API deliveries it receives."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from chat.models import Message
from llm.crypto import EncryptedTextField
from llm.models import ModelVersion
from tenants.models import TenantScopedModel


class SlackWorkspace(TenantScopedModel):
    """One company's Slack app: where its events come from (``/slack/events?workspace=<slug>``) and how to answer."""

    class Language(models.TextChoices):
        JA = "ja", _("Japanese")
        EN = "en", _("English")

    slug = models.SlugField(
        _("slug"),
        max_length=50,
        unique=True,
        help_text=_("The ?workspace= value of the Request URL."),
        # Slugs are unique across companies: say only that it is taken, not whose it is.
        error_messages={"unique": _("This slug is already in use. Choose another one.")},
    )
    team_id = models.CharField(_("team ID"), max_length=32, help_text=_("Slack workspace ID, e.g. T0123ABCD"))
    app_id = models.CharField(_("app ID"), max_length=32, blank=True, help_text=_("Slack app ID, e.g. A0123ABCD"))
    signing_secret = EncryptedTextField(_("signing secret"), blank=True)
    bot_token = EncryptedTextField(_("bot token"), blank=True)
    bot_user_id = models.CharField(_("bot user ID"), max_length=32, blank=True, editable=False)
    bot_id = models.CharField(_("bot ID"), max_length=32, blank=True, editable=False)
    bot_name = models.CharField(_("bot name"), max_length=100, blank=True, editable=False)
    model_version = models.ForeignKey(
        ModelVersion,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        verbose_name=_("model"),
        help_text=_("Empty: the company's default model."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    include_thread_context = models.BooleanField(
        _("include other thread messages"),
        default=False,
        help_text=_("Channel threads: also send messages that do not mention the bot to the model."),
    )
    notice_language = models.CharField(
        _("notice language"), max_length=2, choices=Language.choices, default=Language.JA
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    AUDIT_SECRET_FIELDS = ("signing_secret", "bot_token")

    class Meta:
        verbose_name = _("Slack workspace")
        verbose_name_plural = _("Slack workspaces")
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class SlackEvent(TenantScopedModel):
    """An Events API delivery, stored before it is acknowledged: deduplicated on (workspace, event_id), processed
    once by Celery, kept with its error when Slack could not be reached (``slack_reprocess`` re-queues it)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        PROCESSING = "processing", _("Processing")
        DONE = "done", _("Done")
        IGNORED = "ignored", _("Ignored")
        FAILED = "failed", _("Failed")

    workspace = models.ForeignKey(SlackWorkspace, on_delete=models.CASCADE, related_name="events")
    event_id = models.CharField(max_length=64)
    event_type = models.CharField(max_length=64, blank=True)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    # The answer, once the model has been called: a re-processed event re-posts it and never calls the model again.
    reply_message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "event_id"], name="slackevent_unique_event")]
        indexes = [models.Index(fields=["status", "created_at"], name="slackevent_status")]

    def __str__(self) -> str:
        return f"{self.workspace_id}:{self.event_id}"
