"""How a sign-in ends, for either protocol: finish it from a verified identity (sign the
person in, or show an administrator's test result) or refuse it with an explanation
(docs/sso.md). The protocol views (``sso.views_saml``, ``sso.views_oidc``) and the start
views (``sso.views``) call these through the module, ``outcome.finish_sign_in``, so tests
can stand in for them; this module imports no view, so the imports run one way:
views -> views_saml / views_oidc -> outcome.

CONTRACT:
- ``finish_sign_in(request, *, connection, identity, next_url, test) -> HttpResponse``
- ``fail_sign_in(request, *, connection, error) -> HttpResponse``
"""

from __future__ import annotations

from django.shortcuts import render

from admincenter.permissions import actor_for, forbidden, is_admin
from admincenter.services.signin import SignInRefused, sso_connection_test_record, sso_sign_in, sso_validation_failed
from admincenter.views.signin import complete_sign_in, sign_in_context

# What a person reads when a response fails a check; the code itself is audited.
FAILURE_EXPLANATIONS = {
    "signature_invalid": "The identity provider's answer was not signed with the certificate this connection trusts.",
    "audience_mismatch": "The identity provider's answer was meant for another application.",
    "destination_mismatch": "The identity provider's answer was sent to another address than this application's.",
    "issuer_mismatch": "The answer did not come from the identity provider this connection is set up with.",
    "expired": "The identity provider's answer is outside its validity time: it expired, or the clocks disagree. "
    "Start the sign-in again.",
    "not_yet_valid": "The identity provider's answer is not valid yet: the clocks disagree. Try again in a minute.",
    "subject_mismatch": "Your identity provider described another person in your profile than the one who signed in.",
    "replayed": "This answer from the identity provider was already used. Start the sign-in again.",
    "in_response_to_mismatch": "The answer does not belong to a sign-in started here, or it took too long. "
    "Start the sign-in again.",
    "state_mismatch": "This browser did not start the sign-in the identity provider answered, or it took too long. "
    "Start the sign-in again.",
    "nonce_mismatch": "The identity provider's answer does not belong to this sign-in. Start the sign-in again.",
    "unsolicited_refused": "Sign-in must start from this application, not from the identity provider's portal.",
    "email_unverified": "Your identity provider says your email address is not verified.",
    "no_email": "Your identity provider did not send an email address.",
    "idp_error": "Your identity provider refused or cancelled the sign-in.",
    "idp_unreachable": "Your identity provider could not be reached. Try again later.",
    "token_exchange_failed": "The sign-in could not be completed with your identity provider. Try again later.",
    "userinfo_failed": "Your profile could not be read from your identity provider. Try again later.",
    "connection_not_ready": "This sign-in option is not set up completely yet. Ask your IT administrator.",
    "invalid_response": "The identity provider's answer could not be read.",
}
GENERIC_FAILURE = "The identity provider's answer did not pass the checks."


def finish_sign_in(request, *, connection, identity, next_url: str = "", test: bool = False):
    """A verified identity came back: show it (test), or sign the person in and send them
    on, or show why they may not sign in."""
    if test:
        return _test_result(request, connection, identity)
    try:
        user = sso_sign_in(connection=connection, identity=identity, context=sign_in_context(request))
    except SignInRefused as refusal:
        response = render(
            request,
            "sso/refused.html",
            {"message": refusal.message, "reason": refusal.reason, "connection": connection},
            status=403,
        )
        response["Cache-Control"] = "no-store"
        return response
    return complete_sign_in(request, user, next_url)


def _test_result(request, connection, identity):
    # The test flag was set by ``sso_test`` for an administrator; check again that the
    # browser finishing it is one of this organization's administrators.
    if not (is_admin(request) and request.user.home_organization_id == connection.organization_id):
        return forbidden(request, reason="Only this organization's administrators can test its SSO connections.")
    sso_connection_test_record(connection=connection, identity=identity, actor=actor_for(request))
    attributes = sorted(
        (name, [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)])
        for name, value in (identity.attributes or {}).items()
    )
    response = render(
        request,
        "sso/test_result.html",
        {"section": "settings", "connection": connection, "identity": identity, "attributes": attributes},
    )
    response["Cache-Control"] = "no-store"
    return response


def fail_sign_in(request, *, connection, error):
    """A response failed a protocol check: audited with its reason code, explained in
    plain words, and a way back to the sign-in page."""
    sso_validation_failed(connection=connection, error=error, context=sign_in_context(request))
    response = render(
        request,
        "sso/error.html",
        {
            "explanation": FAILURE_EXPLANATIONS.get(error.reason, GENERIC_FAILURE),
            "reason": error.reason,
            "connection": connection,
        },
        status=400,
    )
    response["Cache-Control"] = "no-store"
    return response
