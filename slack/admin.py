"""Admin console for each company's Slack app: operators manage every company's, tenant admins their own."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from audit.hashing import fingerprint
from llm.admin import SecretFormMixin, secret_input
from slack.models import SlackWorkspace
from slack.services import slack_workspace_save
from tenants.admin_scoping import LiveCheckAdminMixin, LiveCheckForm, TenantScopedAdmin, is_operator


class SlackWorkspaceForm(SecretFormMixin, LiveCheckForm):
    """Secrets are write-only (empty keeps them); the bot token is checked live with ``auth.test`` on save, which
    also fills in the bot's user id and name."""

    SECRETS = ("signing_secret", "bot_token")

    signing_secret = secret_input(
        _("signing secret"),
        _("Basic Information → App Credentials. Stored encrypted. Leave empty to keep the current one."),
    )
    bot_token = secret_input(
        _("bot token"),
        _("OAuth & Permissions → Bot User OAuth Token (xoxb-…). Stored encrypted. Leave empty to keep it."),
    )

    class Meta:
        model = SlackWorkspace
        fields = [
            "tenant",
            "slug",
            "team_id",
            "app_id",
            "signing_secret",
            "bot_token",
            "model_version",
            "enabled",
            "include_thread_context",
            "notice_language",
        ]

    def run_check(self, subject: Any) -> Any:
        from slack.client import bot_identity

        return bot_identity(token=subject)

    def clean(self) -> dict[str, Any]:
        from llm.selectors import model_version_list

        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        if cleaned.get("enabled"):
            # A new entry may be saved disabled without credentials, to get its Request URL and manifest first.
            for name in ("app_id", "signing_secret", "bot_token"):
                if not cleaned.get(name):
                    self.add_error(name, gettext("Required to enable the workspace."))
            if self.errors:
                return cleaned
        elif not cleaned.get("bot_token"):
            return cleaned
        tenant = cleaned.get("tenant") or getattr(self.instance, "tenant", None)
        version = cleaned.get("model_version")
        if version is not None and tenant is not None and not model_version_list(tenant=tenant).filter(pk=version.pk):
            self.add_error("model_version", gettext("This model is not available for the company."))
            return cleaned
        identity = self.live_result(cleaned["bot_token"])  # auth.test, made before the transaction opens
        if identity is None:
            return cleaned
        if not identity.ok:
            self.add_error(
                "bot_token", gettext("Slack refused the bot token (auth.test: %(error)s).") % {"error": identity.error}
            )
            return cleaned
        if identity.team_id and cleaned.get("team_id") and identity.team_id != cleaned["team_id"]:
            self.add_error(
                "team_id",
                gettext("The bot token belongs to Slack workspace %(actual)s, not %(expected)s.")
                % {"actual": identity.team_id, "expected": cleaned["team_id"]},
            )
            return cleaned
        self.instance.bot_user_id = identity.user_id
        self.instance.bot_id = identity.bot_id
        self.instance.bot_name = identity.name
        return cleaned


@admin.register(SlackWorkspace)
class SlackWorkspaceAdmin(LiveCheckAdminMixin, TenantScopedAdmin[SlackWorkspace]):
    """Operators manage every company's Slack app; tenant admins only their own. Changes are audited (secrets as
    fingerprints). The change page shows the Request URL and the app manifest to paste into Slack."""

    form = SlackWorkspaceForm
    change_form_template = "admin/slack/slackworkspace/change_form.html"
    list_display = ["slug", "tenant", "team_id", "bot_name", "enabled", "include_thread_context", "notice_language"]
    list_filter = ["tenant", "enabled"]
    search_fields = ["slug", "team_id", "app_id"]
    readonly_fields = ["bot_user_id", "bot_name", "signing_secret_fingerprint", "bot_token_fingerprint"]

    @admin.display(description=_("signing secret"))
    def signing_secret_fingerprint(self, obj: SlackWorkspace) -> str:
        return fingerprint(obj.signing_secret or "") or "—"

    @admin.display(description=_("bot token"))
    def bot_token_fingerprint(self, obj: SlackWorkspace) -> str:
        return fingerprint(obj.bot_token or "") or "—"

    def save_model(self, request: HttpRequest, obj: SlackWorkspace, form: Any, change: bool) -> None:
        slack_workspace_save(workspace=obj, acting_user=request.user)  # type: ignore[arg-type]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "model_version" and field is not None and not is_operator(request):
            from llm.selectors import model_version_list

            field.queryset = model_version_list(tenant=request.user.tenant)  # type: ignore[union-attr]
        return field

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        from slack.manifest import app_manifest_json, request_url

        workspace = self.get_object(request, object_id)  # 404 for another tenant's row
        if workspace is not None:
            url = request_url(base_url=f"https://{request.get_host()}", workspace=workspace)
            extra_context = {
                **(extra_context or {}),
                "slack_request_url": url,
                "slack_manifest": app_manifest_json(workspace=workspace, events_url=url),
            }
        return super().change_view(request, object_id, form_url, extra_context)
