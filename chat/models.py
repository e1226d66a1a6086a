"""Conversations and their messages (tenant-scoped), and the notice about confidential data."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from llm.models import ModelVersion
from tenants.models import Tenant, TenantScopedModel


class Conversation(TenantScopedModel):
    """A chat of one person, on the web or in a Slack thread."""

    class Source(models.TextChoices):
        WEB = "web", _("Web")
        SLACK = "slack", _("Slack")

    user = models.ForeignKey(
        "tenants.User", null=True, blank=True, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(_("title"), max_length=200, blank=True)
    system_prompt = models.TextField(_("system prompt"), blank=True)
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.WEB)
    # Slack: the thread this conversation mirrors (workspace slug, channel id, thread ts).
    slack_key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        indexes = [models.Index(fields=["tenant", "user", "-updated_at"], name="conv_tenant_user_recent")]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "slack_key"], condition=~models.Q(slack_key=""), name="conv_unique_slack_thread"
            )
        ]

    def __str__(self) -> str:
        return self.title or f"#{self.pk}"


class Message(TenantScopedModel):
    class Role(models.TextChoices):
        USER = "user", _("User")
        ASSISTANT = "assistant", _("Assistant")

    class Status(models.TextChoices):
        OK = "ok", _("Complete")
        STREAMING = "streaming", _("Answering")
        STOPPED = "stopped", _("Stopped")
        ERROR = "error", _("Error")
        PROMPT_FILTERED = "prompt_filtered", _("Blocked by the content filter")
        COMPLETION_FILTERED = "completion_filtered", _("Cut by the content filter")
        TRUNCATED = "truncated", _("Cut off")
        LENGTH = "length", _("Reached the length limit")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField(blank=True)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.OK)
    superseded = models.BooleanField(default=False, help_text=_("An answer replaced by a regenerated one"))
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL)
    model_label = models.CharField(max_length=200, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    usage = models.JSONField(default=dict, blank=True)
    context_trimmed = models.PositiveIntegerField(default=0)
    # Slack: the ts of the posted message (user message ts or bot reply ts).
    slack_ts = models.CharField(max_length=40, blank=True)
    # Answers: whom this one is for. "user:<id>" for a person with an account (web and Slack alike, so the
    # per-person cap counts both), "slack:<team>:<member>" for a Slack member with none. The email is kept as the
    # channel gave it, for the audit of an answer closed after its process died.
    speaker = models.CharField(max_length=120, blank=True)
    speaker_email = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["conversation", "id"], name="msg_conversation_order"),
            # Running answers in a conversation (a handful at any time): the busy check at every turn start.
            models.Index(fields=["conversation"], condition=models.Q(status="streaming"), name="msg_streaming"),
            # Running answers (a handful at any time): the per-person cap counts them at every turn start.
            models.Index(fields=["speaker"], condition=models.Q(status="streaming"), name="msg_streaming_speaker"),
        ]

    def __str__(self) -> str:
        return f"{self.role} #{self.pk}"


class Notice(models.Model):
    """The notice that confidential data belongs in the web UI, not in Slack. Global, or a tenant's override.

    ``version`` goes up whenever the text changes: people acknowledge each version once."""

    tenant = models.OneToOneField(
        Tenant, null=True, blank=True, on_delete=models.CASCADE, verbose_name=_("company (empty: everyone)")
    )
    web_text_ja = models.TextField(_("web banner (Japanese)"), blank=True)
    web_text_en = models.TextField(_("web banner (English)"), blank=True)
    slack_text_ja = models.TextField(_("Slack footer (Japanese)"), blank=True)
    slack_text_en = models.TextField(_("Slack footer (English)"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")

    def __str__(self) -> str:
        return str(self.tenant or _("Everyone"))

    def clean(self) -> None:
        if self.tenant_id is None and Notice.objects.filter(tenant__isnull=True).exclude(pk=self.pk).exists():
            raise ValidationError(_("There is already a notice for everyone; edit that one."))

    def web_text(self, language: str) -> str:
        text = self.web_text_ja if language.startswith("ja") else self.web_text_en
        return text or self.web_text_en or self.web_text_ja

    def slack_text(self, language: str) -> str:
        text = self.slack_text_ja if language.startswith("ja") else self.slack_text_en
        return text or self.slack_text_en or self.slack_text_ja


class NoticeAcknowledgement(TenantScopedModel):
    user = models.ForeignKey("tenants.User", on_delete=models.CASCADE)
    notice = models.ForeignKey(Notice, on_delete=models.CASCADE)
    version = models.PositiveIntegerField()
    acknowledged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "notice", "version"], name="notice_ack_once_per_version")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} ack {self.notice_id} v{self.version}"
