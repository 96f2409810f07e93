from django.urls import reverse

from tongxin.testing import ID_A1


def test_the_django_admin_opens_for_administrators_without_whole_id_numbers(client, world):
    client.force_login(world.admin)
    for name in (
        "areas_area",
        "party_partyorg",
        "people_resident",
        "accounts_user",
        "audit_auditentry",
        "people_partymember",
    ):
        assert client.get(reverse(f"admin:{name}_changelist")).status_code == 200, name
    body = client.get(reverse("admin:people_resident_change", args=[world.resident_a1.pk]))
    assert body.status_code == 200 and ID_A1 not in body.content.decode()


def test_the_django_admin_is_closed_to_other_roles(client, world):
    client.force_login(world.street_office)
    r = client.get(reverse("admin:people_resident_changelist"))
    assert r.status_code == 302
