"""Verbatims, themes and the theme taxonomy: tagging through the outbox, the verbatims
list and its filters, the themes page's numbers, the editor, defaults and access."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.apps import apps as django_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from metrics.defaults import DEFAULT_THEMES, theme_defaults_create
from metrics.models import ResponseTheme, Theme
from metrics.selectors.filters import DashboardFilters
from metrics.selectors.insights import theme_insights
from metrics.services.theme_settings import KEYWORD_MAX, KEYWORDS_MAX
from metrics.services.themes import theme_matcher
from responses.models import Response
from surveys.models import SurveyVersion
from tenants.context import tenant_context
from tenants.models import AuditLog, Role
from tests.conftest import Tenant
from tests.factories import (
    OrganizationFactory,
    case_factory,
    published_survey,
    response_factory,
    theme_factory,
)

Capture = Callable[..., AbstractContextManager[Any]]
NOW = datetime(2026, 5, 20, 10, 0, tzinfo=UTC)
MAY = "start=2026-05-01&end=2026-05-31"


def submit(
    capture: Capture,
    version: SurveyVersion,
    score: int | None,
    comment: str = "",
    *,
    when: datetime = NOW,
    **kwargs: Any,
) -> Response:
    """A response through the real path: the submit service, then the outbox handlers
    (rollup and theme tagging) on commit."""
    answers: dict[str, Any] = {}
    if score is not None:
        answers["recommend"] = score
    if comment:
        answers["recommend-reason"] = comment
    with capture(execute=True):
        return response_factory(version=version, answers=answers, responded_at=when, **kwargs)


def theme_names(response: Response) -> set[str]:
    return set(
        ResponseTheme.objects.filter(response=response).values_list("theme__name", flat=True)
    )


def url(tenant: Tenant, path: str) -> str:
    return tenant.url(f"dashboard/{path}")


# --- Tagging and defaults -------------------------------------------------------------


def test_comments_are_tagged_in_german_and_english_at_word_starts(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization):
        version = published_survey()
        german = submit(
            django_capture_on_commit_callbacks, version, 2, "Die Lieferung kam viel zu spät."
        )
        english = submit(django_capture_on_commit_callbacks, version, 3, "Delivery was late.")
        undelivered = submit(
            django_capture_on_commit_callbacks, version, 4, "My order stayed undelivered."
        )
        several = submit(
            django_capture_on_commit_callbacks,
            version,
            5,
            "Zu teuer, und niemand hat auf meine E-Mail geantwortet.",
        )
        app = submit(django_capture_on_commit_callbacks, version, 10, "The app is great.")
        appreciate = submit(
            django_capture_on_commit_callbacks, version, 10, "I appreciate the quick help."
        )
        assert theme_names(german) == {"Delivery"}
        assert theme_names(english) == {"Delivery"}
        # "deliver" starts no word in "undelivered"; "order" does.
        assert theme_names(undelivered) == {"Website & ordering"}
        assert theme_names(several) == {"Price", "Communication"}
        # A quoted keyword ("app") matches the whole word only.
        assert theme_names(app) == {"Website & ordering"}
        assert theme_names(appreciate) == set()


def test_new_organizations_get_the_default_themes_in_their_language(db: None) -> None:
    english: Any = OrganizationFactory(default_language="en")
    german: Any = OrganizationFactory(default_language="de")
    with tenant_context(english):
        names = set(Theme.objects.values_list("name", flat=True))
        assert names == {theme.names["en"] for theme in DEFAULT_THEMES}
        delivery = Theme.objects.get(name="Delivery")
        assert {"deliver", "liefer", "paket", "versand", "parcel"} <= set(delivery.keywords)
        assert theme_defaults_create(language="en") is False  # idempotent
        assert Theme.objects.count() == len(DEFAULT_THEMES)
    with tenant_context(german):
        assert Theme.objects.filter(name="Lieferung").exists()
        assert Theme.objects.count() == len(DEFAULT_THEMES)


def test_every_demo_comment_gets_a_default_theme(tenant_a: Tenant) -> None:
    from responses.demo import COMMENTS

    with tenant_context(tenant_a.organization):
        matcher = theme_matcher()
    untagged = [
        comment
        for by_language in COMMENTS.values()
        for comments in by_language.values()
        for comment in comments
        if not matcher.themes_in(comment)
    ]
    assert untagged == []


def test_the_data_migration_gives_existing_organizations_the_defaults(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Capture
) -> None:
    migration = importlib.import_module("metrics.migrations.0002_default_themes")
    with tenant_context(tenant_a.organization):
        version = published_survey()
        Theme.objects.all().delete()
        response = submit(
            django_capture_on_commit_callbacks, version, 2, "Das Paket war beschädigt."
        )
        assert theme_names(response) == set()
    migration.create_default_themes(django_apps, None)
    with tenant_context(tenant_a.organization):
        assert Theme.objects.count() == len(DEFAULT_THEMES)
        # The organization's existing comments are tagged with them.
        assert theme_names(response) == {"Delivery", "Product quality"}
    migration.create_default_themes(django_apps, None)  # idempotent
    with tenant_context(tenant_a.organization):
        assert Theme.objects.count() == len(DEFAULT_THEMES)
        assert ResponseTheme.objects.count() == 2


# --- Verbatims ------------------------------------------------------------------------


@pytest.fixture
def verbatims_data(tenant_a: Tenant, django_capture_on_commit_callbacks: Capture) -> dict[str, Any]:
    capture = django_capture_on_commit_callbacks
    with tenant_context(tenant_a.organization):
        shop = published_survey()
        hotline = published_survey()
        data = {
            "late": submit(capture, shop, 2, "The parcel was late again."),
            "rude": submit(capture, hotline, 3, "Rude agent on the phone."),
            "great": submit(capture, shop, 10, "Great prices and fast shipping!"),
            "german": submit(capture, shop, 9, "Günstig und schnell.", language="de"),
            "silent": submit(capture, shop, 1),
            "april": submit(
                capture,
                shop,
                0,
                "Parcel lost in April.",
                when=datetime(2026, 4, 10, 12, tzinfo=UTC),
            ),
            "shop": shop,
            "hotline": hotline,
        }
    return data


def comments_on(tenant: Tenant, query: str) -> list[str]:
    page = tenant.client.get(url(tenant, f"verbatims/?{query}"))
    assert page.status_code == 200
    return [row.response.comment for row in page.context["rows"]]


def test_verbatims_list_the_comments_of_the_filters(
    tenant_a: Tenant, verbatims_data: dict[str, Any]
) -> None:
    data = verbatims_data
    with time_machine.travel(NOW, tick=False):
        everything = comments_on(tenant_a, MAY)
        assert everything == [data[key].comment for key in ("german", "great", "rude", "late")], (
            "newest first (same time: higher id first); no empty comments, no April"
        )
        page = tenant_a.client.get(url(tenant_a, f"verbatims/?{MAY}"))
        assert "4 comments" in page.content.decode()
        assert comments_on(tenant_a, f"{MAY}&group=detractor") == [
            data["rude"].comment,
            data["late"].comment,
        ]
        with tenant_context(tenant_a.organization):
            price = Theme.objects.get(name="Price")
        assert comments_on(tenant_a, f"{MAY}&theme={price.pk}") == [
            data["german"].comment,
            data["great"].comment,
        ]
        assert comments_on(tenant_a, f"{MAY}&q=PARCEL") == [data["late"].comment]
        touchpoint = data["hotline"].survey.touchpoint_id
        assert comments_on(tenant_a, f"{MAY}&touchpoint={touchpoint}") == [data["rude"].comment]
        assert comments_on(tenant_a, "start=2026-04-01&end=2026-04-30") == [data["april"].comment]
        assert comments_on(tenant_a, f"{MAY}&language=de") == [data["german"].comment]


def test_verbatim_rows_show_scores_themes_and_links(
    tenant_a: Tenant, verbatims_data: dict[str, Any]
) -> None:
    with time_machine.travel(NOW, tick=False):
        body = tenant_a.client.get(url(tenant_a, f"verbatims/?{MAY}")).content.decode()
    late = verbatims_data["late"]
    with tenant_context(tenant_a.organization):
        delivery = Theme.objects.get(name="Delivery")
    assert f"/o/alpha/responses/{late.pk}/" in body
    assert "score-detractor" in body
    assert "score-promoter" in body
    # A theme chip links to the same filters restricted to that theme.
    assert f"theme={delivery.pk}" in body
    assert ">Delivery</a>" in body
    # Date in the organization's time zone (Berlin: 12:00 for 10:00 UTC).
    assert "noon" in body or "12:00" in body or "12 p.m." in body


def test_verbatims_escape_customer_text_and_mark_the_search(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization):
        version = published_survey()
        submit(
            django_capture_on_commit_callbacks,
            version,
            2,
            '<script>alert("x")</script> <b>Script</b> delivery',
        )
    with time_machine.travel(NOW, tick=False):
        body = tenant_a.client.get(url(tenant_a, f"verbatims/?{MAY}")).content.decode()
        assert "<script>alert" not in body
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
        assert "<b>Script</b>" not in body
        marked = tenant_a.client.get(url(tenant_a, f"verbatims/?{MAY}&q=script")).content
    html = marked.decode()
    assert "&lt;<mark>script</mark>&gt;alert" in html
    assert "&lt;b&gt;<mark>Script</mark>&lt;/b&gt;" in html
    assert "<script>" not in html


def test_verbatims_are_paged_with_a_bounded_number_of_queries(
    tenant_a: Tenant,
    django_capture_on_commit_callbacks: Capture,
    django_assert_max_num_queries: Any,
) -> None:
    with tenant_context(tenant_a.organization), time_machine.travel(NOW, tick=False):
        version = published_survey()
        first = submit(django_capture_on_commit_callbacks, version, 2, "Parcel late, rude staff")
        case_factory(version=version, answers={"recommend": 1, "recommend-reason": "Broken"})

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert tenant_a.client.get(url(tenant_a, f"verbatims/?{MAY}")).status_code == 200
        return len(captured)

    with time_machine.travel(NOW, tick=False):
        few = queries()
    with tenant_context(tenant_a.organization), time_machine.travel(NOW, tick=False):
        for index in range(28):
            submit(
                django_capture_on_commit_callbacks,
                version,
                index % 11,
                f"Comment {index}: delivery and price",
            )
            if index < 3:
                case_factory(
                    version=version, answers={"recommend": 0, "recommend-reason": f"Bad {index}"}
                )
    with time_machine.travel(NOW, tick=False):
        assert queries() == few, "the query count does not grow with the rows"
        with django_assert_max_num_queries(25):
            page_one = tenant_a.client.get(url(tenant_a, f"verbatims/?{MAY}"))
        assert len(page_one.context["rows"]) == 25
        assert "33 comments" in page_one.content.decode()
        assert "Page 1 of 2" in page_one.content.decode()
        page_two = tenant_a.client.get(url(tenant_a, f"verbatims/?{MAY}&page=2"))
    assert len(page_two.context["rows"]) == 8
    assert page_two.context["rows"][-1].response.pk == first.pk


def test_case_links_only_for_members_who_work_cases(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization), django_capture_on_commit_callbacks(execute=True):
        case = case_factory(answers={"recommend": 1, "recommend-reason": "Parcel broken"})
    case_url = f"/o/alpha/cases/{case.number}/"
    with time_machine.travel(case.created_at, tick=False):
        admin_page = tenant_a.client.get(url(tenant_a, "verbatims/")).content.decode()
        viewer = tenant_a.client_for(tenant_a.member(Role.VIEWER))
        viewer_page = viewer.get(url(tenant_a, "verbatims/")).content.decode()
    assert case_url in admin_page
    assert "Parcel broken" in viewer_page
    assert case_url not in viewer_page
    assert "known customer" in viewer_page  # viewers do not see contacts' names


# --- Themes page ----------------------------------------------------------------------


@pytest.fixture
def ten_responses(tenant_a: Tenant, django_capture_on_commit_callbacks: Capture) -> None:
    """5 promoters, 2 passives, 3 detractors: NPS 20. Delivery: 3 detractors; Staff
    friendliness: 2 promoters; Price: 1 passive; one promoter comment with no theme."""
    capture = django_capture_on_commit_callbacks
    with tenant_context(tenant_a.organization):
        version = published_survey()
        for _ in range(3):
            submit(capture, version, 2, "The parcel came late.")
        for _ in range(2):
            submit(capture, version, 10, "Very friendly staff.")
        submit(capture, version, 9, "Great service.")
        submit(capture, version, 9)
        submit(capture, version, 9)
        submit(capture, version, 7, "A bit expensive.")
        submit(capture, version, 8)


def test_theme_numbers_and_nps_impact(tenant_a: Tenant, ten_responses: None) -> None:
    filters = DashboardFilters(start=NOW.date().replace(day=1), end=NOW.date())
    with tenant_context(tenant_a.organization):
        insights = theme_insights(filters, "Europe/Berlin")
    assert insights.nps.score == pytest.approx(20.0)
    assert insights.comments == 7
    assert insights.detractor_comments == 3
    assert insights.promoter_comments == 3
    assert insights.untagged_comments == 1
    rows = {row.name: row for row in insights.rows}
    delivery = rows["Delivery"]
    assert delivery.mentions == 3
    assert delivery.share == pytest.approx(3 / 7)
    assert delivery.detractor_share == pytest.approx(1.0)
    assert delivery.nps.score == pytest.approx(-100.0)
    # Without the 3 detractors: 5 promoters of 7 -> 71.43; 20 - 71.43 = -51.43.
    assert delivery.impact == pytest.approx(20.0 - 100.0 * 5 / 7)
    staff = rows["Staff friendliness"]
    assert staff.promoter_share == pytest.approx(2 / 3)
    # Without 2 promoters: 3 promoters, 3 detractors of 8 -> 0; impact +20.
    assert staff.impact == pytest.approx(20.0)
    # Without 1 passive: (5 - 3) / 9 -> 22.22; impact -2.22.
    assert rows["Price"].impact == pytest.approx(20.0 - 200.0 / 9)
    assert rows["Repair"].mentions == 0
    assert rows["Repair"].impact == pytest.approx(0.0)
    assert [row.name for row in insights.top_detractor] == ["Delivery"]
    assert [row.name for row in insights.top_promoter] == ["Staff friendliness"]


def test_themes_page_shows_the_tables(tenant_a: Tenant, ten_responses: None) -> None:
    with time_machine.travel(NOW, tick=False):
        # Verbatim-only filters in the link (from the subnav) are dropped here.
        page = tenant_a.client.get(url(tenant_a, f"themes/?{MAY}&group=detractor&q=x"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Top themes among detractors" in body
    assert "Top themes among promoters" in body
    assert "-51.4" in body
    assert "+20.0" in body
    assert "without any theme" in body
    assert not page.context["filters_ignored"]
    assert page.context["filters"].nps_group == ""
    with tenant_context(tenant_a.organization):
        delivery = Theme.objects.get(name="Delivery")
    # Each theme links to its verbatims; the detractor table to the detractors' ones.
    amp = MAY.replace("&", "&amp;")
    assert f"verbatims/?{amp}&amp;theme={delivery.pk}&amp;group=detractor" in body
    assert f'verbatims/?{amp}&amp;theme={delivery.pk}"' in body


# --- Theme editor ---------------------------------------------------------------------


def test_theme_create_validates_audits_and_retags(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization):
        version = published_survey()
        invoice = submit(
            django_capture_on_commit_callbacks, version, 3, "The invoice was wrong twice."
        )
        audits = AuditLog.objects.count()
    create = url(tenant_a, "themes/settings/new/")
    bad = [
        ({"name": "Billing", "keywords": " , \n "}, "keywords", "at least one keyword"),
        (
            {"name": "Billing", "keywords": ",".join(f"k{i}" for i in range(KEYWORDS_MAX + 1))},
            "keywords",
            "at most 50 keywords",
        ),
        ({"name": "Billing", "keywords": "x" * (KEYWORD_MAX + 1)}, "keywords", "too long"),
        ({"name": "Billing", "keywords": "--"}, "keywords", "no letters or digits"),
        ({"name": "delivery", "keywords": "invoice"}, "name", "already exists"),
        ({"name": "", "keywords": "invoice"}, "name", "required"),
    ]
    for data, field, message in bad:
        page = tenant_a.client.post(create, data)
        assert page.status_code == 200, data
        assert any(message in error for error in page.context["form"].errors[field]), data
    with tenant_context(tenant_a.organization):
        assert not Theme.objects.filter(name="Billing").exists()
        assert AuditLog.objects.count() == audits
    # A preview saves nothing.
    page = tenant_a.client.post(create, {"name": "Billing", "keywords": "invoice", "preview": "1"})
    assert "Matches 1 of the last 1 comment" in page.content.decode()
    assert "<mark>invoice</mark>" in page.content.decode()
    with tenant_context(tenant_a.organization):
        assert not Theme.objects.filter(name="Billing").exists()
    with django_capture_on_commit_callbacks(execute=True):
        saved = tenant_a.client.post(
            create,
            {
                "name": " Billing ",
                "keywords": "Invoice, rechnung\nbilling\ninvoice",
                "description": "Invoices",
            },
        )
    with tenant_context(tenant_a.organization):
        theme = Theme.objects.get(name="Billing")
        assert theme.keywords == ["invoice", "rechnung", "billing"]
        assert saved.status_code == 302
        assert saved["Location"] == url(tenant_a, f"themes/settings/{theme.pk}/")
        entry = AuditLog.objects.get(action="theme.create")
        assert entry.object_id == str(theme.pk)
        assert entry.actor == tenant_a.admin
        # The retag task ran on commit (eager in tests): the old comment is tagged.
        assert theme_names(invoice) == {"Billing"}
    body = tenant_a.client.get(saved["Location"]).content.decode()
    assert "Theme “Billing” added." in body
    assert "Matches 1 of the last 1 comment" in body


def test_theme_update_archive_restore_delete(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization):
        version = published_survey()
        comment = submit(django_capture_on_commit_callbacks, version, 4, "Hotline never picks up.")
        theme = theme_factory(name="Hotline", keywords=["phone"])
    edit = url(tenant_a, f"themes/settings/{theme.pk}/")
    assert tenant_a.client.get(edit).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        saved = tenant_a.client.post(edit, {"name": "Hotline", "keywords": "hotline\nphone"})
    assert saved.status_code == 302
    with tenant_context(tenant_a.organization):
        assert theme_names(comment) == {"Hotline"}
        change = AuditLog.objects.get(action="theme.update")
        assert change.changes == {"keywords": [["phone"], ["hotline", "phone"]]}
    archive = url(tenant_a, f"themes/settings/{theme.pk}/archive/")
    with django_capture_on_commit_callbacks(execute=True):
        assert tenant_a.client.post(archive, {"archived": "1"}).status_code == 302
    with tenant_context(tenant_a.organization):
        assert Theme.objects.get(pk=theme.pk).archived
        assert theme_names(comment) == set()
    with django_capture_on_commit_callbacks(execute=True):
        tenant_a.client.post(archive, {"archived": "0"})
    with tenant_context(tenant_a.organization):
        assert theme_names(comment) == {"Hotline"}
        assert list(
            AuditLog.objects.filter(action__startswith="theme.")
            .order_by("pk")
            .values_list("action", flat=True)
        ) == ["theme.update", "theme.archive", "theme.restore"]
    listing = tenant_a.client.get(url(tenant_a, "themes/settings/")).content.decode()
    assert "Hotline" in listing
    assert "Delivery" in listing
    delete = url(tenant_a, f"themes/settings/{theme.pk}/delete/")
    confirm = tenant_a.client.get(delete)
    assert confirm.status_code == 200
    assert "1 comment is tagged with it" in confirm.content.decode()
    assert tenant_a.client.post(delete).status_code == 302
    with tenant_context(tenant_a.organization):
        assert not Theme.objects.filter(pk=theme.pk).exists()
        assert theme_names(comment) == set()
        assert AuditLog.objects.filter(action="theme.delete", object_id=str(theme.pk)).exists()


def test_retag_now_rebuilds_the_taggings(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Capture
) -> None:
    with tenant_context(tenant_a.organization):
        version = published_survey()
        response = submit(django_capture_on_commit_callbacks, version, 2, "Parcel late")
        ResponseTheme.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        answer = tenant_a.client.post(url(tenant_a, "themes/settings/retag/"))
    assert answer.status_code == 302
    with tenant_context(tenant_a.organization):
        assert theme_names(response) == {"Delivery"}
        assert AuditLog.objects.filter(action="theme.retag").count() == 1


# --- Access ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OWNER])
def test_viewers_and_owners_read_but_do_not_edit(tenant_a: Tenant, role: str) -> None:
    client = tenant_a.client_for(tenant_a.member(role))
    with tenant_context(tenant_a.organization):
        theme = Theme.objects.get(name="Delivery")
    assert client.get(url(tenant_a, "verbatims/")).status_code == 200
    assert client.get(url(tenant_a, "themes/")).status_code == 200
    for path in (
        "themes/settings/",
        "themes/settings/new/",
        f"themes/settings/{theme.pk}/",
        f"themes/settings/{theme.pk}/delete/",
    ):
        assert client.get(url(tenant_a, path)).status_code == 403, path
    for path in (
        "themes/settings/new/",
        f"themes/settings/{theme.pk}/archive/",
        f"themes/settings/{theme.pk}/delete/",
        "themes/settings/retag/",
    ):
        assert client.post(url(tenant_a, path), {"name": "x", "keywords": "y"}).status_code == 403
    with tenant_context(tenant_a.organization):
        assert Theme.objects.filter(pk=theme.pk, archived=False).exists()
        assert not Theme.objects.filter(name="x").exists()


def test_cx_managers_edit_themes(tenant_a: Tenant) -> None:
    client = tenant_a.client_for(tenant_a.member(Role.CX_MANAGER))
    assert client.get(url(tenant_a, "themes/settings/")).status_code == 200


def test_another_organizations_theme_is_not_found(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with tenant_context(tenant_b.organization):
        theirs = Theme.objects.get(name="Delivery")
    for path in (f"themes/settings/{theirs.pk}/", f"themes/settings/{theirs.pk}/delete/"):
        assert tenant_a.client.get(url(tenant_a, path)).status_code == 404
    archive = url(tenant_a, f"themes/settings/{theirs.pk}/archive/")
    assert tenant_a.client.post(archive, {"archived": "1"}).status_code == 404
    # A's verbatims filtered by B's theme: the filter is ignored, nothing leaks.
    page = tenant_a.client.get(url(tenant_a, f"verbatims/?theme={theirs.pk}"))
    assert page.status_code == 200
    assert page.context["filters"].theme_id is None
    with tenant_context(tenant_b.organization):
        assert not Theme.objects.get(pk=theirs.pk).archived
