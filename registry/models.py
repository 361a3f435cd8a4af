"""The member registry: organisations, their apps and integrations, and the staff who sign in.

Every model that belongs to one organisation names the path to it in `organisation_field`; the
scoping in registry/scoping.py reads it, so "staff see only their own organisation" lives in one place.
"""

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.core.crypto import decrypt_cached
from portal.core.regions import Province
from portal.outbound.policy import validate_url
from registry.validators import validate_uscc


class Organisation(models.Model):
    class Kind(models.TextChoices):
        INTERNET_PLATFORM = "internet_platform", _("Internet platform")
        BASIC_CARRIER = "basic_carrier", _("Basic telecom carrier")
        MVNO = "mvno", _("Mobile virtual network operator (MVNO)")

    class Status(models.TextChoices):
        APPLIED = "applied", _("Applied")
        APPROVED = "approved", _("Approved")
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    organisation_field = "pk"
    CARRIER_KINDS = (Kind.BASIC_CARRIER, Kind.MVNO)

    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    legal_name = models.CharField(_("legal name"), max_length=200)
    credit_code = models.CharField(
        _("unified social credit code"),
        max_length=18,
        unique=True,
        validators=[validate_uscc],
        help_text=_("统一社会信用代码: 18 characters, the last one a check character."),
    )
    contact_name = models.CharField(_("contact person"), max_length=100)
    contact_email = models.EmailField(_("contact email"))
    contact_phone = models.CharField(_("contact phone"), max_length=32, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.APPLIED)
    status_changed_at = models.DateTimeField(_("status changed at"), default=timezone.now)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("status changed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    notes = models.TextField(_("notes"), blank=True)
    number_segments = models.CharField(
        _("number segments"),
        max_length=500,
        blank=True,
        help_text=_("Carriers only: the mobile number segments they issue, separated by spaces (e.g. 134 135 1703)."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("member organisation")
        verbose_name_plural = _("member organisations")
        ordering = ["legal_name"]
        indexes = [models.Index(fields=["status", "kind"])]

    def __str__(self):
        return self.legal_name

    def save(self, *args, **kwargs):
        self.credit_code = (self.credit_code or "").strip().upper()
        super().save(*args, **kwargs)

    @property
    def is_carrier(self) -> bool:
        return self.kind in self.CARRIER_KINDS


class OrganisationStatusChange(models.Model):
    """Who moved an organisation from one status to another, when, and why."""

    organisation_field = "organisation"

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(_("from"), max_length=16, choices=Organisation.Status.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=16, choices=Organisation.Status.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)
    reason = models.CharField(_("reason"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")
        ordering = ["-changed_at", "-pk"]


class MemberApp(models.Model):
    class Category(models.TextChoices):
        BANKING = "banking", _("Banking")
        SECURITIES_FUNDS = "securities_funds", _("Securities and funds")
        THIRD_PARTY_PAYMENT = "payment", _("Third-party payment")
        ECOMMERCE = "ecommerce", _("E-commerce")
        SOCIAL = "social", _("Social, messaging and email")
        LIFE_SERVICES = "life_services", _("Life services (ride-hailing, travel, food)")
        CLOUD_STORAGE = "cloud_storage", _("Cloud storage")
        TELECOM = "telecom", _("Telecom")
        OTHER = "other", _("Other")

    organisation_field = "organisation"

    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), on_delete=models.PROTECT, related_name="apps"
    )
    name = models.CharField(_("app name"), max_length=100)
    category = models.CharField(_("category"), max_length=32, choices=Category.choices)
    unbind_instructions = models.TextField(
        _("unbind instructions"),
        blank=True,
        help_text=_("Shown to citizens: how to unbind and see account details (解绑与明细查询说明)."),
    )
    unbind_url = models.URLField(_("unbind instructions link"), blank=True)
    supports_lookup = models.BooleanField(_("account lookup"), default=True)
    supports_unbind = models.BooleanField(_("unbinding"), default=False)
    supports_recycling_notices = models.BooleanField(_("recycled-number notices"), default=False)
    supports_identity_check = models.BooleanField(
        _("identity check"),
        default=False,
        help_text=_("Carriers only: checks the last 6 ID characters against the real-name record of the number."),
    )
    go_live_date = models.DateField(_("go-live date"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("member app")
        verbose_name_plural = _("member apps")
        ordering = ["category", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="registry_app_unique_name_per_org")
        ]

    def __str__(self):
        return self.name

    @property
    def capabilities(self) -> list[str]:
        names = []
        if self.supports_lookup:
            names.append(str(_("account lookup")))
        if self.supports_unbind:
            names.append(str(_("unbinding")))
        if self.supports_recycling_notices:
            names.append(str(_("recycled-number notices")))
        if self.supports_identity_check:
            names.append(str(_("identity check")))
        return names


class Integration(models.Model):
    """How the portal reaches one member app: endpoint, limits, credentials and health."""

    organisation_field = "app__organisation"

    app = models.OneToOneField(MemberApp, verbose_name=_("app"), on_delete=models.CASCADE, related_name="integration")
    base_url = models.URLField(_("endpoint base URL"), help_text=_("For example https://portal-api.example.com"))
    timeout_ms = models.PositiveIntegerField(
        _("timeout (ms)"), default=3000, validators=[MinValueValidator(100), MaxValueValidator(60000)]
    )
    max_requests_per_second = models.PositiveIntegerField(
        _("most requests a second"), default=50, validators=[MinValueValidator(1), MaxValueValidator(10000)]
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True)
    last_failure_at = models.DateTimeField(_("last failure"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    consecutive_failures = models.PositiveIntegerField(_("consecutive failures"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("integration")
        verbose_name_plural = _("integrations")

    def __str__(self):
        return f"{self.app} → {self.base_url}"

    def clean(self):
        # The portal calls this URL: it must be one the outbound policy allows (checked again at every
        # connection). In clean(), not as a field validator, so the rule needs no migration.
        if self.base_url:
            try:
                validate_url(self.base_url)
            except ValidationError as error:
                raise ValidationError({"base_url": error.messages}) from None

    def signing_key(self):
        """The newest valid key: the one the portal signs with (the previous one still verifies)."""
        return self.keys.filter(revoked_at__isnull=True).order_by("-created_at", "-pk").first()


class IntegrationKey(models.Model):
    """A signing key (key id + secret). At most two are valid at once, so a member can rotate without
    downtime. The secret is encrypted at rest and shown once, when the key is made."""

    MAX_ACTIVE = 2
    organisation_field = "integration__app__organisation"

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="keys")
    key_id = models.CharField(_("key id"), max_length=64, unique=True)
    secret_encrypted = models.TextField(_("secret (encrypted)"), editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("signing key")
        verbose_name_plural = _("signing keys")
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return self.key_id

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def secret(self) -> str:
        return decrypt_cached(self.secret_encrypted)


class StaffUserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email, password, **extra):
        if not email:
            raise ValueError("Staff users need an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password) if password else user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True, role=StaffUser.Role.ADMINISTRATOR)
        return self._create(email, password, **extra)


class StaffUser(AbstractUser):
    """Everyone who signs in is staff of some kind; citizens never have accounts."""

    class Role(models.TextChoices):
        ADMINISTRATOR = "administrator", _("Working-group administrator")
        PLATFORM_STAFF = "platform_staff", _("Platform staff")
        CARRIER_STAFF = "carrier_staff", _("Carrier staff")
        REGULATOR = "regulator", _("Regulator")

    username = None
    first_name = None
    last_name = None
    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(_("name"), max_length=100, blank=True)
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff",
        help_text=_("Platform and carrier staff only: the one organisation whose data they see."),
    )
    province = models.CharField(
        _("province"),
        max_length=2,
        choices=Province.choices,
        blank=True,
        help_text=_("Regulators only: limit the statistics to one province (empty: the whole country)."),
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []
    objects = StaffUserManager()

    class Meta:
        verbose_name = _("staff user")
        verbose_name_plural = _("staff users")
        constraints = [
            models.CheckConstraint(
                name="registry_staff_org_matches_role",
                condition=(
                    Q(role__in=["platform_staff", "carrier_staff"], organisation__isnull=False)
                    | (~Q(role__in=["platform_staff", "carrier_staff"]) & Q(organisation__isnull=True))
                ),
            ),
        ]

    def __str__(self):
        return self.email

    def save(self, *args, **kwargs):
        # Only working-group administrators open the Django admin; the role decides, not a checkbox.
        self.is_staff = self.role == self.Role.ADMINISTRATOR
        self.email = (self.email or "").lower()
        super().save(*args, **kwargs)

    def get_full_name(self):
        return self.full_name or self.email

    def get_short_name(self):
        return self.full_name or self.email

    def clean(self):
        super().clean()
        self.email = (self.email or "").lower()
        if self.role in (self.Role.PLATFORM_STAFF, self.Role.CARRIER_STAFF):
            if not self.organisation_id:
                raise ValidationError({"organisation": _("Platform and carrier staff belong to one organisation.")})
            org_is_carrier = self.organisation.is_carrier
            if self.role == self.Role.CARRIER_STAFF and not org_is_carrier:
                raise ValidationError({"organisation": _("Carrier staff must belong to a carrier or MVNO.")})
            if self.role == self.Role.PLATFORM_STAFF and org_is_carrier:
                raise ValidationError({"organisation": _("Platform staff must belong to an internet platform.")})
        elif self.organisation_id:
            raise ValidationError({"organisation": _("Only platform and carrier staff belong to an organisation.")})
        if self.province and self.role != self.Role.REGULATOR:
            raise ValidationError({"province": _("Only regulators are limited to a province.")})

    @property
    def is_administrator(self) -> bool:
        return self.role == self.Role.ADMINISTRATOR

    @property
    def is_member_staff(self) -> bool:
        return self.role in (self.Role.PLATFORM_STAFF, self.Role.CARRIER_STAFF)


class AccessToken(models.Model):
    """A short-lived bearer token a member's system got with its key (OAuth 2.0 client credentials),
    for APIs that follow CAMARA's security profile. Only the token's hash is kept."""

    organisation_field = "key__integration__app__organisation"

    key = models.ForeignKey(IntegrationKey, on_delete=models.CASCADE, related_name="access_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("access token")
        verbose_name_plural = _("access tokens")
