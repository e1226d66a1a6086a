"""Companies (tenants), their Google Workspace domains and hostnames, and the people who sign in.

Register new tenant-scoped tables by inheriting ``TenantScopedModel``: its ``tenant`` FK is what every
selector filters on (docs/tenancy.md).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

domain_validator = RegexValidator(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
    _("Enter a lower-case domain such as example.co.jp."),
)


class LowerCaseCharField(models.CharField):
    """Stored lower-case and stripped, whatever was typed (domains, hostnames)."""

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        return value.strip().lower() if isinstance(value, str) else value


class LowerCaseEmailField(models.EmailField):
    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        return value.strip().lower() if isinstance(value, str) else value


class Tenant(models.Model):
    """A company of the group. Nothing of one tenant is ever shown to another."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Inactive companies cannot sign in; their people are signed out.")
    )
    audit_retention_days = models.PositiveIntegerField(
        _("audit retention (days)"),
        null=True,
        blank=True,
        help_text=_("Audit entries older than this are deleted, leaving a signed checkpoint. Empty: keep forever."),
    )
    max_concurrent_replies = models.PositiveSmallIntegerField(
        _("answers at once per person"),
        default=3,
        help_text=_("How many answers one person may have running at the same time, web and Slack together."),
    )
    attachment_max_mb = models.PositiveIntegerField(
        _("largest attachment (MB)"), default=20, help_text=_("The largest file one person may attach in the web chat.")
    )
    attachment_max_files = models.PositiveSmallIntegerField(_("attachments per message"), default=10)
    attachment_quota_mb = models.PositiveIntegerField(
        _("attachments per person (MB)"), default=1000, help_text=_("All of one person's attached files together.")
    )
    attachment_retention_days = models.PositiveIntegerField(
        _("keep attachments (days)"),
        null=True,
        blank=True,
        help_text=_("Attached files older than this are deleted (the messages stay). Empty: keep them."),
    )
    admins_read_audit = models.BooleanField(
        _("company administrators may read the audit trail"),
        default=False,
        help_text=_(
            "Off: only compliance reviewers read this company's audit trail. On: its company administrators too "
            "(their own company only). Every change of this setting is in the audit trail."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    AUDIT_RELATED = ("tenantdomain_set", "tenanthostname_set")

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TenantScopedModel(models.Model):
    """Abstract base of every tenant-owned table. Read it only through selectors that take ``tenant=``."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, verbose_name=_("company"))

    class Meta:
        abstract = True


class TenantDomain(TenantScopedModel):
    """A Google Workspace domain (the ID token's ``hd`` claim) that belongs to exactly one tenant."""

    domain = LowerCaseCharField(_("Google Workspace domain"), max_length=253, validators=[domain_validator])
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("Google Workspace domain")
        verbose_name_plural = _("Google Workspace domains")
        constraints = [
            models.UniqueConstraint(Lower("domain"), name="tenantdomain_domain_ci_unique"),
            models.CheckConstraint(condition=models.Q(domain=Lower("domain")), name="tenantdomain_domain_lower"),
        ]

    def __str__(self) -> str:
        return self.domain


class TenantHostname(TenantScopedModel):
    """An optional hostname that serves only this tenant (e.g. ai.medpeer.example). Others are shared hosts."""

    hostname = LowerCaseCharField(_("hostname"), max_length=253, validators=[domain_validator])

    class Meta:
        verbose_name = _("hostname")
        verbose_name_plural = _("hostnames")
        constraints = [
            models.UniqueConstraint(Lower("hostname"), name="tenanthostname_hostname_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(hostname=Lower("hostname")), name="tenanthostname_hostname_lower"
            ),
        ]

    def __str__(self) -> str:
        return self.hostname


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.update(is_superuser=True, is_staff=True)
        tenant = extra.get("tenant")
        if isinstance(tenant, int | str):
            extra["tenant"] = Tenant.objects.get(pk=tenant)
        return self._create(email, password, **extra)


class User(AbstractUser):
    """A person. Belongs to exactly one tenant for life; platform operators are superusers."""

    class Role(models.TextChoices):
        MEMBER = "member", _("Member")
        TENANT_ADMIN = "tenant_admin", _("Company administrator")
        COMPLIANCE_REVIEWER = "compliance_reviewer", _("Compliance reviewer")

    username = None  # type: ignore[assignment]
    email = LowerCaseEmailField(_("email address"), unique=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="users", verbose_name=_("company"))
    role = models.CharField(_("role"), max_length=32, choices=Role.choices, default=Role.MEMBER)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["tenant"]

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(condition=models.Q(email=Lower("email")), name="user_email_lower"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_tenant_admin(self) -> bool:
        return self.role == self.Role.TENANT_ADMIN

    @property
    def is_compliance_reviewer(self) -> bool:
        return self.role == self.Role.COMPLIANCE_REVIEWER

    @property
    def reads_company_audit(self) -> bool:
        """May read their own company's audit trail: a compliance reviewer, or a company administrator where the
        company allows it (``Tenant.admins_read_audit``). Platform operators read every company's, separately."""
        if not self.is_active:
            return False
        return self.is_compliance_reviewer or (self.is_tenant_admin and self.tenant.admins_read_audit)
