"""Domain models of the Admin Center (docs/domain.md#entities).

Models hold data and database-level invariants only (uniqueness, checks, indexes).
Every write goes through ``admincenter.services``; nothing here writes audit events.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

MAX_SSO_CONNECTIONS = 5

# Public mail domains can never identify an organization (docs/domain.md#sso-connection;
# Opti ID blocks the same list).
PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "yahoo.com",
        "hotmail.com",
        "icloud.com",
        "me.com",
        "facebook.com",
        "linkedin.com",
    }
)


class ProvisioningMode(models.TextChoices):
    JIT = "jit", "Just-in-time (SSO login)"
    SCIM = "scim", "SCIM (pushed by the IdP)"


class ScimDeactivateAction(models.TextChoices):
    DISABLE = "disable", "Deactivate the user"
    DELETE = "delete", "Delete the user"


class Organization(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    provisioning_mode = models.CharField(max_length=8, choices=ProvisioningMode.choices, default=ProvisioningMode.JIT)
    on_scim_deactivate = models.CharField(
        max_length=8,
        choices=ScimDeactivateAction.choices,
        default=ScimDeactivateAction.DISABLE,
    )
    # "Require SSO": password sign-in is refused for everyone whose home this is, except the
    # break-glass users marked ``User.local_login_allowed`` (docs/sso.md#require-sso-and-break-glass).
    require_sso = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=255, blank=True, help_text="Label of the actor who created it.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_scim_mode(self) -> bool:
        return self.provisioning_mode == ProvisioningMode.SCIM


class SsoProtocol(models.TextChoices):
    SAML = "saml", "SAML 2.0"
    OIDC = "oidc", "OpenID Connect"


class SamlNameIdFormat(models.TextChoices):
    EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", "Email address"
    UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified", "Unspecified"
    PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", "Persistent"


class OidcTokenAuthMethod(models.TextChoices):
    # RFC 6749 §2.3.1 and OpenID Connect Core §9: client_secret_basic is the default.
    CLIENT_SECRET_BASIC = "client_secret_basic", "client_secret_basic (HTTP Basic)"
    CLIENT_SECRET_POST = "client_secret_post", "client_secret_post (form body)"


class SsoConnection(models.Model):
    """An identity provider the organization signs in with: a SAML 2.0 IdP or an OpenID
    Connect provider. The protocol fields of the other protocol stay blank. A connection
    without its protocol's required fields is a *draft*: it is listed but signs nobody in
    (``is_ready``)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sso_connections")
    # Public, unguessable id used in the connection's URLs (ACS, metadata, redirect URI).
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    protocol = models.CharField(max_length=4, choices=SsoProtocol.choices)

    # SAML 2.0: the IdP's values (pasted, entered, or read from its metadata).
    saml_idp_entity_id = models.CharField(max_length=1024, blank=True)
    saml_idp_sso_url = models.URLField(max_length=1024, blank=True)
    saml_idp_x509_cert = models.TextField(blank=True, help_text="PEM or base64 body of the IdP signing certificate.")
    saml_idp_metadata_url = models.URLField(max_length=1024, blank=True)
    saml_nameid_format = models.CharField(
        max_length=128, choices=SamlNameIdFormat.choices, default=SamlNameIdFormat.EMAIL
    )
    # Off by default: an unsolicited response has no InResponseTo to bind it to a browser.
    saml_allow_idp_initiated = models.BooleanField(default=False)

    # OpenID Connect: discovery from the issuer; the secret only ever stored encrypted.
    oidc_issuer = models.URLField(max_length=1024, blank=True)
    oidc_client_id = models.CharField(max_length=255, blank=True)
    oidc_client_secret_encrypted = models.TextField(blank=True)
    oidc_scopes = models.CharField(max_length=255, default="openid email profile", blank=True)
    oidc_token_auth_method = models.CharField(
        max_length=32, choices=OidcTokenAuthMethod.choices, default=OidcTokenAuthMethod.CLIENT_SECRET_BASIC
    )

    # Attribute (SAML) or claim (OIDC) names; blank means the protocol's default
    # (see admincenter.sso_identity.DEFAULT_ATTRIBUTES). A blank SAML email attribute means the NameID.
    email_attribute = models.CharField(max_length=255, blank=True)
    given_name_attribute = models.CharField(max_length=255, blank=True)
    family_name_attribute = models.CharField(max_length=255, blank=True)
    groups_attribute = models.CharField(max_length=255, blank=True)
    # Group claims add JIT memberships to existing custom groups; off by default.
    group_claims_enabled = models.BooleanField(default=False)
    # A separate opt-in before a claim may add anyone to Admin Center Administrators.
    group_claims_grant_admin = models.BooleanField(default=False)

    scim_enabled = models.BooleanField(default=False)
    scim_enabled_at = models.DateTimeField(null=True, blank=True)
    scim_enabled_by = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(Lower("name"), "organization", name="sso_connection_name_unique_per_org"),
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(scim_enabled=True),
                name="one_scim_connection_per_org",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def domain_names(self) -> list[str]:
        return sorted(d.domain for d in self.domains.all())

    @property
    def is_saml(self) -> bool:
        return self.protocol == SsoProtocol.SAML

    @property
    def is_oidc(self) -> bool:
        return self.protocol == SsoProtocol.OIDC

    @property
    def is_ready(self) -> bool:
        """Whether the protocol settings needed to sign someone in are all present."""
        if self.is_saml:
            return bool(self.saml_idp_entity_id and self.saml_idp_sso_url and self.saml_idp_x509_cert)
        if self.is_oidc:
            return bool(self.oidc_issuer and self.oidc_client_id and self.oidc_client_secret_encrypted)
        return False


class SsoDomain(models.Model):
    """An email domain served by one connection.

    Anyone may *claim* a domain, but it identifies an organization only once that
    organization proved control of it with a DNS TXT record (``verified_at``): a verified
    domain belongs to exactly one organization, home realm discovery and JIT use verified
    domains only, and no other organization may create users in it.
    """

    connection = models.ForeignKey(SsoConnection, on_delete=models.CASCADE, related_name="domains")
    # Copied from the connection so the per-organization constraints are database constraints.
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sso_domains")
    domain = models.CharField(max_length=253)
    # The value of the TXT record that proves control: "optiid-domain-verification=<token>".
    verification_token = models.CharField(max_length=64)
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "domain"], name="sso_domain_unique_per_org"),
            models.UniqueConstraint(
                fields=["domain"],
                condition=Q(verified_at__isnull=False),
                name="sso_domain_verified_once",
            ),
        ]

    def __str__(self) -> str:
        return self.domain

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None


class ScimToken(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="scim_tokens")
    sso_connection = models.ForeignKey(SsoConnection, on_delete=models.CASCADE, related_name="scim_tokens")
    label = models.CharField(max_length=100)
    token_prefix = models.CharField(max_length=32, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.label} ({self.token_prefix}…)"

    @property
    def state(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= timezone.now():
            return "expired"
        return "active"

    @property
    def is_live(self) -> bool:
        return self.state == "active"


class UserSource(models.TextChoices):
    MANUAL = "manual", "Manual"
    INVITED = "invited", "Invited"
    JIT = "jit", "JIT"
    SCIM = "scim", "SCIM"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username):
        return self.get(email=(username or "").strip().lower())

    def create_user(self, email, password=None, **extra):
        """Low-level creation for Django internals (createsuperuser, tests of auth).
        Product code creates users through admincenter.services."""
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(max_length=254, unique=True)
    # Null only for platform operators (superusers) who belong to no organization.
    home_organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="home_users",
    )
    given_name = models.CharField(max_length=150, blank=True)
    family_name = models.CharField(max_length=150, blank=True)
    display_name = models.CharField(max_length=300, blank=True)
    external_id = models.CharField(max_length=255, blank=True)
    title = models.CharField(max_length=200, blank=True)
    department = models.CharField(max_length=200, blank=True)
    employee_number = models.CharField(max_length=100, blank=True)
    manager = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports")
    # Other IdP-owned SCIM attributes stored as sent (name.formatted, phoneNumbers, ...).
    scim_attributes = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    # Break-glass: keeps password sign-in while the organization requires SSO.
    local_login_allowed = models.BooleanField(default=False)
    is_staff = models.BooleanField(default=False, help_text="Platform operator: may use Django admin.")
    source = models.CharField(max_length=8, choices=UserSource.choices, default=UserSource.MANUAL)
    scim_connection = models.ForeignKey(
        SsoConnection,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="scim_users",
    )
    scim_released_at = models.DateTimeField(null=True, blank=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]
        indexes = [
            models.Index(fields=["home_organization", "created_at", "id"], name="user_org_order_idx"),
            # SCIM `externalId eq` lookups (Entra, Okta), always within one organization.
            models.Index(fields=["home_organization", "external_id"], name="user_org_external_id_idx"),
            # SCIM `userName eq` lookups within one organization: both conditions in one index,
            # so the planner picks it even while an IdP's first push outruns the statistics.
            models.Index(fields=["home_organization", "email"], name="user_org_email_idx"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_scim_managed(self) -> bool:
        return self.scim_connection_id is not None

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.given_name, self.family_name) if p) or self.display_name

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.given_name or self.email


class OrgMembership(models.Model):
    """A collaborator: a user admitted to an organization that is not their home."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="collaborations")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="collaborators")
    invited_by = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="org_membership_unique"),
        ]


class GroupKind(models.TextChoices):
    SYSTEM = "system", "System"
    CUSTOM = "custom", "Custom"
    SCIM = "scim", "SCIM"
    PRODUCT = "product", "Product"


class SystemGroupKey(models.TextChoices):
    EVERYONE = "everyone", "Everyone"
    ADMIN_CENTER_ADMINS = "admin_center_admins", "Admin Center Administrators"


class Product(models.Model):
    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    supports_custom_roles = models.BooleanField(default=True)
    has_projects = models.BooleanField(default=False)
    supports_teams = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RoleKind(models.TextChoices):
    SYSTEM = "system", "System"
    CUSTOM = "custom", "Custom"


class Role(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="roles")
    key = models.SlugField(max_length=64)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=RoleKind.choices, default=RoleKind.SYSTEM)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["product__name", "id"]
        constraints = [models.UniqueConstraint(fields=["product", "key"], name="role_key_unique_per_product")]

    def __str__(self) -> str:
        return self.name


class ProductInstance(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="product_instances")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="instances")
    nickname = models.CharField(max_length=100)
    instance_id = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["product__name", "nickname"]
        constraints = [
            models.UniqueConstraint(
                "organization",
                "product",
                Lower("nickname"),
                name="instance_nickname_unique_per_product",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product.name} – {self.nickname}"


class Group(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="groups")
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=8, choices=GroupKind.choices)
    system_key = models.CharField(max_length=32, choices=SystemGroupKey.choices, null=True, blank=True)
    scim_connection = models.ForeignKey(
        SsoConnection,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="scim_groups",
    )
    external_id = models.CharField(max_length=255, blank=True)
    product_instance = models.ForeignKey(
        ProductInstance,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="product_groups",
    )
    role = models.ForeignKey(
        Role,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="product_groups",
    )
    scim_released_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    members = models.ManyToManyField(User, through="GroupMembership", related_name="member_of")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # Names are unique per organization across all kinds, compared case-insensitively
            # (services trim before saving). Serves SCIM `displayName eq` lookups too.
            models.UniqueConstraint("organization", Lower("name"), name="group_name_ci_unique_per_org"),
            models.UniqueConstraint(
                fields=["organization", "system_key"],
                condition=Q(system_key__isnull=False),
                name="one_system_group_per_key",
            ),
            models.UniqueConstraint(
                fields=["product_instance", "role"],
                condition=Q(kind="product"),
                name="one_product_group_per_instance_role",
            ),
            models.CheckConstraint(
                condition=Q(kind="system", system_key__isnull=False) | (~Q(kind="system") & Q(system_key__isnull=True)),
                name="system_key_iff_system_group",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "kind", "created_at", "id"], name="group_org_kind_order_idx"),
            models.Index(fields=["organization", "external_id"], name="group_org_external_id_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_reserved(self) -> bool:
        return self.kind == GroupKind.SYSTEM

    @property
    def is_everyone(self) -> bool:
        return self.system_key == SystemGroupKey.EVERYONE

    @property
    def is_admin_center_admins(self) -> bool:
        return self.system_key == SystemGroupKey.ADMIN_CENTER_ADMINS


class MembershipOwner(models.TextChoices):
    SYSTEM = "system", "System"
    SCIM = "scim", "SCIM"
    ADMIN = "admin", "Admin"
    JIT = "jit", "JIT"


class GroupMembership(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="group_memberships")
    managed_by = models.CharField(max_length=8, choices=MembershipOwner.choices)
    added_at = models.DateTimeField(default=timezone.now)
    added_by = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "user"], name="group_membership_unique")]
        indexes = [models.Index(fields=["user", "group"], name="membership_user_idx")]


class GroupGrant(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="grants")
    product_instance = models.ForeignKey(ProductInstance, on_delete=models.CASCADE, related_name="grants")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="grants")
    granted_by = models.CharField(max_length=255, blank=True)
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "product_instance", "role"], name="group_grant_unique"),
        ]


class ActorType(models.TextChoices):
    ADMIN_USER = "admin_user", "Admin"
    SCIM_TOKEN = "scim_token", "SCIM token"
    SYSTEM = "system", "System"
    OPERATOR = "operator", "Operator"
    JIT_LOGIN = "jit_login", "JIT login"


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    DENIED = "denied", "Denied"
    FAILED = "failed", "Failed"


class AuditEvent(models.Model):
    """Append-only record of a change (or a refused change). Never deleted with its target,
    so targets are referenced by copied id and label rather than foreign keys."""

    occurred_at = models.DateTimeField(default=timezone.now)
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=255, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=255, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.SUCCESS)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    # Filled by the asynchronous pipeline (admincenter.tasks).
    summary = models.CharField(max_length=500, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(
                fields=["organization", "-occurred_at", "-id"],
                name="audit_org_time_idx",
            ),
            models.Index(
                fields=["processed_at", "id"],
                name="audit_pending_idx",
                condition=Q(processed_at=None),
            ),
            models.Index(fields=["request_id"], name="audit_request_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.action} {self.target_label}"


class ScimRequestLog(models.Model):
    """One row per SCIM request, rejected ones included (written in the request's
    transaction, enriched later by the audit pipeline). Never holds a token or a body."""

    occurred_at = models.DateTimeField(default=timezone.now)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="scim_requests"
    )
    token_prefix = models.CharField(max_length=32, blank=True)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=512)
    status_code = models.PositiveSmallIntegerField()
    scim_type = models.CharField(max_length=32, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    # Filled by the asynchronous pipeline (admincenter.tasks).
    idp = models.CharField(max_length=32, blank=True)
    summary = models.CharField(max_length=500, blank=True)
    event_count = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-occurred_at", "-id"], name="scimlog_org_time_idx"),
            models.Index(fields=["processed_at", "id"], name="scimlog_pending_idx", condition=Q(processed_at=None)),
            models.Index(fields=["request_id"], name="scimlog_request_idx"),
        ]


class AuditHourlyRollup(models.Model):
    """Per-organization, per-hour counters kept after raw rows are purged (dashboard chart)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="audit_rollups")
    hour = models.DateTimeField()
    requests = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    errors_by_type = models.JSONField(default=dict, blank=True)
    users_created = models.PositiveIntegerField(default=0)
    users_updated = models.PositiveIntegerField(default=0)
    users_deprovisioned = models.PositiveIntegerField(default=0)
    groups_created = models.PositiveIntegerField(default=0)
    groups_updated = models.PositiveIntegerField(default=0)
    groups_deleted = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-hour"]
        constraints = [models.UniqueConstraint(fields=["organization", "hour"], name="rollup_unique_per_hour")]


class AuditExportStatus(models.TextChoices):
    PENDING = "pending", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class AuditExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    JSONL = "jsonl", "JSON Lines"


class AuditExport(models.Model):
    """An Admin Center export of the filtered audit log, written to a file under
    ``AUDIT_EXPORT_DIR`` by a Celery task; ``written``/``total`` drive the progress bar."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="audit_exports")
    requested_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_by_label = models.CharField(max_length=255, blank=True)
    format = models.CharField(max_length=8, choices=AuditExportFormat.choices, default=AuditExportFormat.CSV)
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=8, choices=AuditExportStatus.choices, default=AuditExportStatus.PENDING)
    total = models.PositiveIntegerField(default=0)
    written = models.PositiveIntegerField(default=0)
    file_name = models.CharField(max_length=255, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="auditexport_org_time_idx")]

    def __str__(self) -> str:
        return f"Audit export {self.pk} ({self.format}, {self.status})"

    @property
    def percent(self) -> int:
        if self.status == AuditExportStatus.DONE:
            return 100
        return min(99, int(self.written * 100 / self.total)) if self.total else 0
