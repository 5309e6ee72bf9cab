"""Journeys and touchpoints through the web UI: create, edit, reorder, delete, roles."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from surveys.models import Journey, Survey, SurveyStatus, SurveyVersion, Touchpoint
from surveys.services import touchpoint_reorder, touchpoint_update
from tenants.context import tenant_context
from tenants.models import AuditLog, Organization, Role, Team
from tenants.services import SYSTEM
from tests.conftest import Tenant
from tests.factories import JourneyFactory, TeamFactory, TouchpointFactory, survey_with_draft


def _journey(tenant: Tenant, name: str = "Online purchase") -> Journey:
    response = tenant.client.post(
        tenant.url("journeys/"), {"name": name, "description": "From ad to renewal"}
    )
    assert response.status_code == 302
    with tenant_context(tenant.organization):
        journey = Journey.objects.get(name=name)
    assert response["Location"] == tenant.url(f"journeys/{journey.pk}/")
    return journey


def _add(tenant: Tenant, journey: Journey, name: str, **extra: object) -> Touchpoint:
    data = {"name": name, "process": "online_shop", "weight": "1.00", **extra}
    response = tenant.client.post(tenant.url(f"journeys/{journey.pk}/touchpoints/"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_context(tenant.organization):
        return Touchpoint.objects.get(journey=journey, name=name)


def _order(tenant: Tenant, journey: Journey) -> list[tuple[int, str]]:
    with tenant_context(tenant.organization):
        return list(
            Touchpoint.objects.filter(journey=journey)
            .order_by("position")
            .values_list("position", "name")
        )


def _actions(tenant: Tenant) -> list[str]:
    with tenant_context(tenant.organization):
        return list(AuditLog.objects.order_by("id").values_list("action", flat=True))


def test_cx_manager_builds_a_journey_and_reorders_its_touchpoints(tenant_a: Tenant) -> None:
    cx = tenant_a.client_for(tenant_a.member(Role.CX_MANAGER))
    tenant_a.client = cx
    with tenant_context(tenant_a.organization):
        shop_team: Any = TeamFactory(name="Online shop")
    journey = _journey(tenant_a)
    _add(tenant_a, journey, "Awareness", process="other", process_detail="Marketing")
    shop = _add(
        tenant_a, journey, "Purchase", team=shop_team.pk, weight="2.5", process_detail="Web shop"
    )
    _add(tenant_a, journey, "Delivery", process="service_partner")
    assert _order(tenant_a, journey) == [(1, "Awareness"), (2, "Purchase"), (3, "Delivery")]
    assert shop.team_id == shop_team.pk
    assert shop.weight == Decimal("2.50")
    assert shop.process_detail == "Web shop"

    # Move buttons are plain forms: they work without JavaScript.
    page = cx.get(tenant_a.url(f"journeys/{journey.pk}/")).content.decode()
    move_url = tenant_a.url(f"touchpoints/{shop.pk}/move/")
    assert f'action="{move_url}"' in page
    assert page.index("Awareness") < page.index("Purchase") < page.index("Delivery")
    response = cx.post(move_url, {"direction": "down"})
    assert response.status_code == 302
    assert response["Location"].endswith(f"#touchpoint-{shop.pk}")
    assert _order(tenant_a, journey) == [(1, "Awareness"), (2, "Delivery"), (3, "Purchase")]
    cx.post(move_url, {"direction": "down"})  # already last: nothing changes
    cx.post(tenant_a.url(f"touchpoints/{shop.pk}/move/"), {"direction": "up"})
    cx.post(tenant_a.url(f"touchpoints/{shop.pk}/move/"), {"direction": "up"})
    assert _order(tenant_a, journey) == [(1, "Purchase"), (2, "Awareness"), (3, "Delivery")]
    page = cx.get(tenant_a.url(f"journeys/{journey.pk}/")).content.decode()
    assert page.index("Purchase") < page.index("Awareness") < page.index("Delivery")
    assert "Online shop" in page
    assert _actions(tenant_a).count("touchpoint.move") == 3


def test_touchpoints_are_edited_and_deleted_and_the_order_closes_up(tenant_a: Tenant) -> None:
    journey = _journey(tenant_a)
    first = _add(tenant_a, journey, "A")
    middle = _add(tenant_a, journey, "B")
    _add(tenant_a, journey, "C")
    response = tenant_a.client.post(
        tenant_a.url(f"touchpoints/{first.pk}/"),
        {
            "name": "A renamed",
            "process": "call_centre",
            "process_detail": "Hotline",
            "weight": "0.5",
            "description": "Calls",
        },
    )
    assert response.status_code == 302
    tenant_a.client.post(tenant_a.url(f"touchpoints/{middle.pk}/delete/"))
    assert _order(tenant_a, journey) == [(1, "A renamed"), (2, "C")]
    with tenant_context(tenant_a.organization):
        first.refresh_from_db()
        assert (first.process, first.weight, first.description) == (
            "call_centre",
            Decimal("0.50"),
            "Calls",
        )
        update = AuditLog.objects.get(action="touchpoint.update")
        assert update.changes["name"] == ["A", "A renamed"]
        assert update.changes["weight"] == ["1.00", "0.50"]
    assert "touchpoint.delete" in _actions(tenant_a)


def test_bad_touchpoint_input_is_explained_and_nothing_is_saved(tenant_a: Tenant) -> None:
    journey = _journey(tenant_a)
    before = _actions(tenant_a)
    response = tenant_a.client.post(
        tenant_a.url(f"journeys/{journey.pk}/touchpoints/"),
        {"name": "", "process": "fax", "weight": "0"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="error"') >= 3
    assert "Select a valid choice" in html
    assert _order(tenant_a, journey) == []
    assert _actions(tenant_a) == before


def test_a_team_of_another_organization_is_refused(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with tenant_context(tenant_b.organization):
        foreign: Any = TeamFactory(name="Bravo care")
    journey = _journey(tenant_a)
    response = tenant_a.client.post(
        tenant_a.url(f"journeys/{journey.pk}/touchpoints/"),
        {"name": "Support", "process": "call_centre", "weight": "1", "team": foreign.pk},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert _order(tenant_a, journey) == []
    # The service checks it too, whatever the caller.
    touchpoint = _add(tenant_a, journey, "Support")
    with tenant_context(tenant_a.organization), pytest.raises(ValidationError) as caught:
        touchpoint_update(
            actor=SYSTEM,
            touchpoint=touchpoint,
            name="Support",
            description="",
            process="call_centre",
            process_detail="",
            team_id=foreign.pk,
            weight="1",
        )
    assert caught.value.message_dict == {"team": ["Choose a team of this organization."]}
    with tenant_context(tenant_a.organization):
        touchpoint.refresh_from_db()
        assert touchpoint.team_id is None


def test_reorder_lists_every_touchpoint_once_and_swaps_atomically(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        journey: Any = JourneyFactory()
        ids = [_pk(TouchpointFactory(journey=journey, name=n)) for n in ("a", "b", "c", "d")]
        with pytest.raises(ValidationError):
            touchpoint_reorder(actor=SYSTEM, journey=journey, touchpoint_ids=ids[:3])
        touchpoint_reorder(actor=SYSTEM, journey=journey, touchpoint_ids=list(reversed(ids)))
    assert _order(tenant_a, journey) == [(1, "d"), (2, "c"), (3, "b"), (4, "a")]
    with tenant_context(tenant_a.organization):
        entry = AuditLog.objects.get(action="journey.reorder")
        assert entry.changes == {"touchpoints": [["a", "b", "c", "d"], ["d", "c", "b", "a"]]}


def test_journeys_and_touchpoints_with_surveys_are_kept(tenant_a: Tenant) -> None:
    journey = _journey(tenant_a)
    touchpoint = _add(tenant_a, journey, "Purchase")
    with tenant_context(tenant_a.organization):
        survey_with_draft(touchpoint=touchpoint)
    response = tenant_a.client.post(tenant_a.url(f"touchpoints/{touchpoint.pk}/delete/"))
    assert response.status_code == 302
    follow = tenant_a.client.get(response["Location"]).content.decode()
    assert "cannot be deleted" in follow
    tenant_a.client.post(tenant_a.url(f"journeys/{journey.pk}/delete/"))
    with tenant_context(tenant_a.organization):
        assert Touchpoint.objects.filter(pk=touchpoint.pk).exists()
        assert Journey.objects.filter(pk=journey.pk).exists()
    empty = _journey(tenant_a, "Empty")
    response = tenant_a.client.post(tenant_a.url(f"journeys/{empty.pk}/delete/"))
    assert response["Location"] == tenant_a.url("journeys/")
    with tenant_context(tenant_a.organization):
        assert not Journey.objects.filter(pk=empty.pk).exists()


def test_journey_names_are_unique_and_editable(tenant_a: Tenant) -> None:
    journey = _journey(tenant_a)
    again = tenant_a.client.post(tenant_a.url("journeys/"), {"name": "online PURCHASE"})
    assert "already exists" in again.content.decode()
    response = tenant_a.client.post(
        tenant_a.url(f"journeys/{journey.pk}/"), {"name": "Web purchase", "description": ""}
    )
    assert response.status_code == 302
    with tenant_context(tenant_a.organization):
        journey.refresh_from_db()
    assert (journey.name, journey.description) == ("Web purchase", "")


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OWNER])
def test_viewers_and_owners_see_journeys_but_change_nothing(tenant_a: Tenant, role: str) -> None:
    journey = _journey(tenant_a)
    touchpoint = _add(tenant_a, journey, "Purchase")
    client = tenant_a.client_for(tenant_a.member(role))
    before = _actions(tenant_a)
    home = client.get(tenant_a.url()).content.decode()
    assert tenant_a.url("journeys/") in home
    listing = client.get(tenant_a.url("journeys/"))
    assert listing.status_code == 200
    assert "New journey" not in listing.content.decode()
    detail = client.get(tenant_a.url(f"journeys/{journey.pk}/")).content.decode()
    assert "Purchase" in detail
    assert "move/" not in detail
    assert "Add a touchpoint" not in detail
    assert client.get(tenant_a.url(f"touchpoints/{touchpoint.pk}/")).status_code == 200
    for url, data in [
        ("journeys/", {"name": "Sneaky"}),
        (f"journeys/{journey.pk}/", {"name": "Renamed"}),
        (f"journeys/{journey.pk}/delete/", {}),
        (f"journeys/{journey.pk}/touchpoints/", {"name": "X", "process": "other", "weight": 1}),
        (f"touchpoints/{touchpoint.pk}/", {"name": "X", "process": "other", "weight": 1}),
        (f"touchpoints/{touchpoint.pk}/move/", {"direction": "up"}),
        (f"touchpoints/{touchpoint.pk}/delete/", {}),
    ]:
        assert client.post(tenant_a.url(url), data).status_code == 403, url
    assert _actions(tenant_a) == before


def _pk(obj: Any) -> int:
    return int(obj.pk)


def _queries(tenant: Tenant, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert tenant.client.get(tenant.url(path)).status_code == 200
    return len(captured)


def _grow(tenant: Tenant, journey: Journey, count: int) -> None:
    with tenant_context(tenant.organization):
        for _ in range(count):
            JourneyFactory()
            touchpoint = TouchpointFactory(journey=journey, team=TeamFactory())
            survey_with_draft(touchpoint=touchpoint, name=f"Survey at {touchpoint.name}")


def test_journey_pages_do_not_query_per_row(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        journey: Any = JourneyFactory()
    _grow(tenant_a, journey, 1)
    few = {path: _queries(tenant_a, path) for path in ("journeys/", f"journeys/{journey.pk}/")}
    _grow(tenant_a, journey, 15)
    many = {path: _queries(tenant_a, path) for path in ("journeys/", f"journeys/{journey.pk}/")}
    assert many == few
    assert max(few.values()) <= 20


@pytest.mark.django_db
def test_seed_demo_creates_journeys_and_published_bilingual_surveys_once() -> None:
    call_command("seed_demo", stdout=io.StringIO())
    demo = Organization.objects.get(slug="demo")
    with tenant_context(demo):
        audit_after_first = AuditLog.objects.count()
    call_command("seed_demo", stdout=io.StringIO())
    with tenant_context(demo):
        assert AuditLog.objects.count() == audit_after_first
        assert sorted(Journey.objects.values_list("name", flat=True)) == [
            "Online purchase",
            "Service & repair",
        ]
        online = list(
            Touchpoint.objects.filter(journey__name="Online purchase")
            .order_by("position")
            .values_list("name", "team__name")
        )
        assert online == [
            ("Awareness", None),
            ("Purchase in the online shop", "Online shop"),
            ("Delivery by a service partner", "Service partner network"),
            ("Support call", "Call centre"),
            ("Renewal", "Customer care"),
        ]
        assert Touchpoint.objects.filter(journey__name="Service & repair").count() == 4
        assert set(Team.objects.values_list("name", flat=True)) >= {
            "Online shop",
            "Call centre",
            "Customer care",
            "Service partner network",
        }
        surveys = Survey.objects.all()
        assert surveys.count() >= 4
        assert {s.status for s in surveys} == {SurveyStatus.ACTIVE}
        for version in SurveyVersion.objects.all():
            assert version.published_at is not None
            assert version.languages == ["en", "de"]
            assert version.default_language == "de"
