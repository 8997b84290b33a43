"""Admin Center forms: input parsing and shape checks only.

Domain rules (reserved names, the lock matrix, uniqueness, the connection limit...) are
enforced by the services; views turn a ``DomainError`` into an error next to the field
it names (``add_domain_error``). Labels are on every field; Django 5.2 renders
``aria-invalid`` and ``aria-describedby`` for errors and help texts.
"""

from __future__ import annotations

import secrets

from django import forms
from django.core import signing

from admincenter.errors import DomainError
from admincenter.models import (
    ProductInstance,
    Role,
    ScimDeactivateAction,
    SsoConnection,
    SsoProtocol,
)


class Form(forms.Form):
    """Labels without Django's trailing colon (they sit above their field)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


def add_domain_error(form: forms.Form, error: DomainError) -> None:
    """Show a service refusal next to the field it concerns, or above the form."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


class UserCreateForm(Form):
    email = forms.EmailField(label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    given_name = forms.CharField(label="Given name", max_length=150, required=False)
    family_name = forms.CharField(label="Family name", max_length=150, required=False)
    password = forms.CharField(
        label="Initial password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Optional. Leave empty for people who sign in with SSO.",
    )


class CollaboratorForm(Form):
    email = forms.EmailField(
        label="Email of the collaborator",
        max_length=254,
        help_text="A person whose account belongs to another organization (a partner or an agency).",
    )


class UserProfileForm(Form):
    email = forms.EmailField(label="Email", max_length=254)
    given_name = forms.CharField(label="Given name", max_length=150, required=False)
    family_name = forms.CharField(label="Family name", max_length=150, required=False)


class GroupNameForm(Form):
    name = forms.CharField(
        label="Group name",
        max_length=255,
        help_text="Unique in your organization. Names starting with Opti_SCIM_ are kept for your identity provider.",
    )


class MemberAddForm(Form):
    """Adds one person by email. The input gets a type-ahead list from our JS; without
    JS it is a plain email field."""

    email = forms.EmailField(
        label="Add a member by email",
        max_length=254,
        widget=forms.EmailInput(
            attrs={"autocomplete": "off", "data-user-picker": "", "list": "user-picker-options"},
        ),
    )


class GroupChoiceForm(Form):
    """Add the user to one group (a custom group, Admin Center Administrators, or a
    product group for "Add product access")."""

    group = forms.UUIDField(label="Group")


class GrantAddForm(Form):
    instance = forms.ModelChoiceField(
        label="Product instance",
        queryset=ProductInstance.objects.none(),
        empty_label="Choose an instance",
    )
    roles = forms.ModelMultipleChoiceField(
        label="Roles",
        queryset=Role.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="One or more roles of the instance's product.",
    )

    def __init__(self, *args, instances, **kwargs):
        super().__init__(*args, **kwargs)
        instances = list(instances)
        self.fields["instance"].queryset = ProductInstance.objects.filter(pk__in=[i.pk for i in instances])
        self.fields["instance"].choices = [("", "Choose an instance")] + [(i.pk, str(i)) for i in instances]
        product_ids = {i.product_id for i in instances}
        roles = [r for i in {i.product_id: i for i in instances}.values() for r in i.product.roles.all()]
        self.fields["roles"].queryset = Role.objects.filter(product_id__in=product_ids)
        self.fields["roles"].choices = [(r.pk, r.name) for r in roles]
        # For the template: options carry their product so JS can filter the roles,
        # and roles are grouped by product.
        self.instance_options = [(i.pk, str(i), i.product.code) for i in instances]
        self.roles_by_product = {}
        for i in instances:
            self.roles_by_product.setdefault(i.product, list(i.product.roles.all()))


def _domain_lines(value: str) -> list[str]:
    return [d for d in (part.strip() for part in value.replace(",", "\n").splitlines()) if d]


class SsoConnectionForm(Form):
    name = forms.CharField(label="Name", max_length=100, help_text="Shown on the sign-in page.")
    protocol = forms.ChoiceField(label="Protocol", choices=SsoProtocol.choices)
    domains = forms.CharField(
        label="Email domains",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, for example example.com. Public mail domains such as gmail.com are refused.",
    )
    saml_entity_id = forms.CharField(label="SAML: IdP entity ID", max_length=500, required=False)
    saml_sso_url = forms.URLField(
        label="SAML: single sign-on URL", max_length=500, required=False, assume_scheme="https"
    )
    saml_certificate = forms.CharField(
        label="SAML: signing certificate (PEM)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
    )
    oidc_issuer = forms.URLField(label="OIDC: issuer URL", max_length=500, required=False, assume_scheme="https")
    oidc_client_id = forms.CharField(label="OIDC: client ID", max_length=255, required=False)

    SETTING_FIELDS = ("saml_entity_id", "saml_sso_url", "saml_certificate", "oidc_issuer", "oidc_client_id")

    @classmethod
    def initial_for(cls, connection: SsoConnection) -> dict:
        initial = {
            "name": connection.name,
            "protocol": connection.protocol,
            "domains": "\n".join(connection.domain_names),
        }
        for field in cls.SETTING_FIELDS:
            initial[field] = (connection.settings or {}).get(field, "")
        return initial

    def domain_list(self) -> list[str]:
        return _domain_lines(self.cleaned_data.get("domains", ""))

    def protocol_settings(self) -> dict:
        prefix = f"{self.cleaned_data['protocol']}_"
        return {f: self.cleaned_data[f] for f in self.SETTING_FIELDS if f.startswith(prefix) and self.cleaned_data[f]}


class ScimEnableForm(Form):
    connection = forms.ModelChoiceField(
        label="SSO connection that carries SCIM",
        queryset=SsoConnection.objects.none(),
        empty_label="Choose a connection",
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["connection"].queryset = SsoConnection.objects.filter(organization=organization)


class ScimEnableConfirmForm(ScimEnableForm):
    first_token_label = forms.CharField(
        label="Label of the first token",
        max_length=100,
        required=False,
        help_text="Optional. Fill it in to generate the first token now; it is shown once.",
    )


class ScimDeactivateForm(Form):
    on_scim_deactivate = forms.ChoiceField(
        label="Action on active=false",
        choices=ScimDeactivateAction.choices,
        widget=forms.RadioSelect,
    )


TOKEN_EXPIRY_CHOICES = [("365", "1 year"), ("90", "90 days"), ("never", "Never")]
_TOKEN_NONCE_SALT = "admincenter.scim-token-form"


class TokenIssueForm(Form):
    """Generate a SCIM token. ``nonce`` makes a browser's "resubmit the form" after the
    token page was shown refuse to mint a second, unseen token."""

    label = forms.CharField(label="Label", max_length=100, help_text='For example "Okta production".')
    expiry = forms.ChoiceField(label="Expires after", choices=TOKEN_EXPIRY_CHOICES, initial="365")
    nonce = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["nonce"] = signing.dumps(secrets.token_hex(8), salt=_TOKEN_NONCE_SALT)

    def clean_nonce(self) -> str:
        try:
            return signing.loads(self.cleaned_data["nonce"], salt=_TOKEN_NONCE_SALT, max_age=6 * 3600)
        except signing.BadSignature:
            raise forms.ValidationError("The form expired. Reload the page and try again.") from None

    def expires_in_days(self) -> int | None:
        value = self.cleaned_data["expiry"]
        return None if value == "never" else int(value)


class ExportFilterForm(Form):
    product = forms.ChoiceField(label="Product", required=False)
    instance = forms.ChoiceField(label="Instance", required=False)

    def __init__(self, *args, instances, **kwargs):
        super().__init__(*args, **kwargs)
        instances = list(instances)
        products = {i.product.code: i.product.name for i in instances}
        self.fields["product"].choices = [("", "All products"), *sorted(products.items(), key=lambda p: p[1])]
        self.fields["instance"].choices = [("", "All instances")] + [(i.instance_id, str(i)) for i in instances]
