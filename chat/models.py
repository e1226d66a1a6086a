"""Conversations and their messages (tenant-scoped), and the notice about confidential data."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from audit.models import LLMStatus
from llm.models import ModelVersion
from tenants.models import Tenant, TenantScopedModel


class Folder(TenantScopedModel):
    """A person's folder of conversations in the sidebar (chatbot-ui v1 had them; imports bring them along)."""

    user = models.ForeignKey("tenants.User", on_delete=models.CASCADE, related_name="chat_folders")
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(default=0)
    # chatbot-ui v1's folder id when imported: importing the same export twice creates nothing twice.
    imported_key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("folder")
        verbose_name_plural = _("folders")
        ordering = ["position", "name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "user", "imported_key"],
                condition=~models.Q(imported_key=""),
                name="folder_unique_import",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Conversation(TenantScopedModel):
    """A chat of one person, on the web or in a Slack thread."""

    class Source(models.TextChoices):
        WEB = "web", _("Web")
        SLACK = "slack", _("Slack")

    class TitleSource(models.TextChoices):
        FIRST_WORDS = "first_words", _("First words of the question")
        MODEL = "model", _("Summarised by the model")
        PERSON = "person", _("Named by the person")
        IMPORTED = "imported", _("Imported")

    user = models.ForeignKey(
        "tenants.User", null=True, blank=True, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(_("title"), max_length=200, blank=True)
    system_prompt = models.TextField(_("system prompt"), blank=True)
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.WEB)
    # Slack: the thread this conversation mirrors (workspace slug, channel id, thread ts).
    slack_key = models.CharField(max_length=200, blank=True)
    title_source = models.CharField(max_length=16, choices=TitleSource.choices, default=TitleSource.FIRST_WORDS)
    pinned = models.BooleanField(_("pinned"), default=False)
    folder = models.ForeignKey(Folder, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations")
    # chatbot-ui v1's conversation id when imported: importing the same export twice creates nothing twice.
    imported_key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        indexes = [models.Index(fields=["tenant", "user", "-updated_at"], name="conv_tenant_user_recent")]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "slack_key"], condition=~models.Q(slack_key=""), name="conv_unique_slack_thread"
            ),
            models.UniqueConstraint(
                fields=["tenant", "user", "imported_key"],
                condition=~models.Q(imported_key=""),
                name="conv_unique_import",
            ),
        ]

    def __str__(self) -> str:
        return self.title or f"#{self.pk}"


class Message(TenantScopedModel):
    class Role(models.TextChoices):
        USER = "user", _("User")
        ASSISTANT = "assistant", _("Assistant")

    class Status(models.TextChoices):
        # A finished answer's words are the audit trail's (audit.models.LLMStatus): one vocabulary.
        OK = LLMStatus.OK.value, LLMStatus.OK.label
        STREAMING = "streaming", _("Answering")
        STOPPED = LLMStatus.STOPPED.value, LLMStatus.STOPPED.label
        ERROR = LLMStatus.ERROR.value, LLMStatus.ERROR.label
        PROMPT_FILTERED = LLMStatus.PROMPT_FILTERED.value, LLMStatus.PROMPT_FILTERED.label
        COMPLETION_FILTERED = LLMStatus.COMPLETION_FILTERED.value, LLMStatus.COMPLETION_FILTERED.label
        TRUNCATED = LLMStatus.TRUNCATED.value, LLMStatus.TRUNCATED.label
        LENGTH = LLMStatus.LENGTH.value, LLMStatus.LENGTH.label

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField(blank=True)
    # ``content`` as search tokens (chat.search.search_text_for: NFKC + casefold, CJK bigrams, words). Written with
    # the content; PostgreSQL indexes to_tsvector('simple', search_text) with GIN (migration 0007, docs/search.md).
    search_text = models.TextField(blank=True, default="", editable=False)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.OK)
    # The message this one follows: an answer's question, a question's previous answer (None: a first question).
    # Edits and regenerations are siblings under one parent (chat.branches).
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children", db_index=False
    )
    superseded = models.BooleanField(
        default=False,
        help_text=_("Off the active path: an earlier version of an edited question or of a regenerated answer"),
    )
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL)
    model_label = models.CharField(max_length=200, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    # What the reader's language needs to say the error (e.g. retry_after); the sentence is made when it is read.
    error_params = models.JSONField(default=dict, blank=True)
    error_message = models.TextField(blank=True)
    usage = models.JSONField(default=dict, blank=True)
    context_trimmed = models.PositiveIntegerField(default=0)
    # Files sent with this question (attachments.Attachment.message): a turn looks them up only where this is set.
    attachment_count = models.PositiveSmallIntegerField(default=0)
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
            # The versions of one question or answer: its siblings under one parent.
            models.Index(fields=["parent", "id"], name="msg_parent_children"),
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


class Feedback(TenantScopedModel):
    """A person's thumbs up or down on an answer, with an optional comment (audited)."""

    class Rating(models.IntegerChoices):
        UP = 1, _("Helpful")
        DOWN = -1, _("Not helpful")

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey("tenants.User", on_delete=models.CASCADE)
    rating = models.SmallIntegerField(choices=Rating.choices)
    comment = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        constraints = [models.UniqueConstraint(fields=["message", "user"], name="feedback_one_per_person")]

    def __str__(self) -> str:
        return f"{self.get_rating_display()} on #{self.message_id}"


class Prompt(TenantScopedModel):
    """A saved prompt with ``{{variable}}`` placeholders: a person's own (``owner``), or shared with the whole
    company by a tenant admin (``owner`` empty)."""

    owner = models.ForeignKey("tenants.User", null=True, blank=True, on_delete=models.CASCADE, related_name="prompts")
    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=300, blank=True)
    content = models.TextField(_("prompt"), max_length=32_000)
    folder_name = models.CharField(_("folder"), max_length=100, blank=True)
    created_by = models.ForeignKey("tenants.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # chatbot-ui v1's prompt id when imported: importing the same export twice creates nothing twice.
    imported_key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("prompt")
        verbose_name_plural = _("prompts")
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "owner", "imported_key"],
                condition=~models.Q(imported_key=""),
                name="prompt_unique_import",
            )
        ]

    def __str__(self) -> str:
        return self.name
