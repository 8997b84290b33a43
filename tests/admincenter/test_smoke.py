from admincenter.models import AuditEvent, Group


def test_fixtures_build_a_scim_organization(scim_organization, scim_token, other_organization):
    assert scim_organization.provisioning_mode == "scim"
    assert Group.objects.filter(organization=scim_organization, kind="system").count() == 2
    assert AuditEvent.objects.filter(organization=scim_organization, action="scim.enable").count() == 1
