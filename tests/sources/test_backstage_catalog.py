"""BackstageCatalog against a Backstage-shaped catalog served over real HTTP.

The fake speaks the real endpoints and shapes (canonical refs only in
by-refs, keyset cursors that freeze the filter, totalItems on the first page
only) and counts calls and the tokens they carry, so the tests can hold
batching, paging and token forwarding to numbers.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from gateway.auth.principal import Principal, PrincipalKind
from sources.catalog.backstage import BY_REFS_BATCH, BackstageCatalog
from sources.catalog.model import EntityFilter, EntityPage, EntityQuery
from sources.errors import (
    AuthenticationError,
    InputError,
    NotAllowedError,
    UpstreamError,
    UpstreamThrottledError,
    UpstreamTimeoutError,
)
from tests.support.fake_backstage import FakeBackstage
from tests.support.http_server import serve_app

USER_TOKEN = "alice-user-token-0123456789abcdef"
SERVICE_TOKEN = "gateway-service-token-0123456789"
ALICE = Principal(subject="user:default/alice", kind=PrincipalKind.USER, token=USER_TOKEN)
CI = Principal(subject="ci-bot", kind=PrincipalKind.SERVICE)


def _entity(kind: str, name: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, **metadata},
        "spec": spec,
    }


def _component(name: str, spec_type: str, owner: str = "ml-platform", **metadata: Any):
    spec = {"type": spec_type, "lifecycle": "production", "owner": owner}
    return _entity("Component", name, spec, **metadata)


ENTITIES = [
    _entity("Group", "ml-platform", {"type": "team", "children": []}),
    _entity("Group", "data-eng", {"type": "team", "children": []}),
    _entity("User", "alice", {"memberOf": ["ml-platform"]}),
    _component(
        "churn-training-pipeline", "ml-pipeline", tags=["churn"], description="Weekly retraining"
    ),
    _component("churn-model", "ml-model", tags=["churn"], title="Churn Model"),
    _component("fraud-training-pipeline", "ml-pipeline", owner="data-eng"),
    _component("fraud-model", "ml-model", owner="data-eng", tags=["fraud"]),
    _component("feature-store", "service", owner="data-eng"),
    _component("ranking-model", "ml-model", description="Orders search results"),
    _component("ranking-pipeline", "ml-pipeline"),
    _component("recs-api", "service"),
    _component("batch-scorer", "ml-pipeline"),
    _component("anomaly-detector", "ml-model", tags=["fraud"]),
    _entity("Resource", "customer-events", {"type": "dataset", "owner": "data-eng"}),
    _entity("Resource", "churn-features", {"type": "dataset", "owner": "ml-platform"}),
    _entity("API", "scoring-api", {"type": "openapi", "owner": "ml-platform"}),
]
COMPONENTS = sorted(e["metadata"]["name"] for e in ENTITIES if e["kind"] == "Component")
ONLY_COMPONENTS = EntityFilter(kinds=("Component",))


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeBackstage, str]]:
    fake = FakeBackstage(ENTITIES, tokens={USER_TOKEN, SERVICE_TOKEN})
    with serve_app(fake.app()) as base_url:
        yield fake, base_url


@pytest.fixture
def fake(served: tuple[FakeBackstage, str]) -> FakeBackstage:
    served[0].reset()
    return served[0]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def catalog(
    served: tuple[FakeBackstage, str], fake: FakeBackstage, http: httpx.AsyncClient
) -> BackstageCatalog:
    return BackstageCatalog(served[1], http, service_token=SERVICE_TOKEN, timeout=2.0)


def names(page: EntityPage) -> list[str]:
    return [e["metadata"]["name"] for e in page.items]


async def query(
    catalog: BackstageCatalog,
    entity_filter: EntityFilter = ONLY_COMPONENTS,
    limit: int = 50,
    cursor: str | None = None,
) -> EntityPage:
    return await catalog.query_entities(EntityQuery(entity_filter, limit, cursor), ALICE)


async def all_pages(catalog: BackstageCatalog, limit: int) -> list[EntityPage]:
    pages = [await query(catalog, limit=limit)]
    while pages[-1].next_cursor is not None:
        pages.append(await query(catalog, limit=limit, cursor=pages[-1].next_cursor))
        assert len(pages) < 20, "paging does not end"
    return pages


def cursor_of(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


# --- entities by ref ----------------------------------------------------------------


async def test_by_refs_answers_in_key_order_with_none_for_unknown_refs(catalog):
    refs = ["component:default/fraud-model", "component:default/nope", "group:default/data-eng"]

    result = await catalog.entities_by_refs(refs, ALICE)

    assert [e and e["metadata"]["name"] for e in result] == ["fraud-model", None, "data-eng"]


async def test_by_refs_canonicalises_refs_the_real_endpoint_would_miss(catalog, fake):
    result = await catalog.entities_by_refs(["Component:Churn-Model", "group:ml-platform"], ALICE)

    assert [e["metadata"]["name"] for e in result] == ["churn-model", "ml-platform"]
    assert fake.requests[0].body == {
        "entityRefs": ["component:default/churn-model", "group:default/ml-platform"]
    }


async def test_malformed_ref_gets_an_input_error_in_its_slot_and_is_not_sent(catalog, fake):
    result = await catalog.entities_by_refs(["churn-model", "component:default/churn-model"], ALICE)

    assert isinstance(result[0], InputError)
    assert result[0].source == "catalog"
    assert result[1]["metadata"]["name"] == "churn-model"
    assert fake.requests[0].body == {"entityRefs": ["component:default/churn-model"]}


async def test_no_call_is_made_when_every_ref_is_malformed(catalog, fake):
    result = await catalog.entities_by_refs(["no-kind", "a:b/c/d"], ALICE)

    assert all(isinstance(r, InputError) for r in result)
    assert fake.calls["by-refs"] == 0


async def test_duplicate_refs_are_sent_once_and_answered_in_every_slot(catalog, fake):
    refs = [
        "component:default/churn-model",
        "Component:churn-model",
        "component:default/churn-model",
    ]

    result = await catalog.entities_by_refs(refs, ALICE)

    assert [e["metadata"]["name"] for e in result] == ["churn-model"] * 3
    assert fake.requests[0].body == {"entityRefs": ["component:default/churn-model"]}


@pytest.mark.parametrize(("batch_size", "calls"), [(None, 2), (200, 5), (300, 4), (1000, 1)])
async def test_1000_refs_take_one_by_refs_call_per_batch(served, fake, http, batch_size, calls):
    sized = {} if batch_size is None else {"batch_size": batch_size}
    catalog = BackstageCatalog(served[1], http, service_token=SERVICE_TOKEN, **sized)
    refs = [f"component:default/missing-{i}" for i in range(999)] + ["group:default/data-eng"]

    result = await catalog.entities_by_refs(refs, ALICE)

    assert fake.calls["by-refs"] == calls == math.ceil(1000 / (batch_size or BY_REFS_BATCH))
    assert sum(len(r.body["entityRefs"]) for r in fake.requests) == 1000
    assert result[:999] == [None] * 999
    assert result[999]["metadata"]["name"] == "data-eng"


async def test_the_default_batch_of_the_longest_refs_fits_backstages_body_limit(catalog, fake):
    longest = [f"{'k' * 63}:{'n' * 63}/{'m' * 59}{i:04d}" for i in range(BY_REFS_BATCH)]

    result = await catalog.entities_by_refs(longest, ALICE)

    assert fake.calls["by-refs"] == 1
    assert result == [None] * BY_REFS_BATCH


async def test_a_large_batch_size_still_splits_bodies_backstage_would_refuse(served, fake, http):
    catalog = BackstageCatalog(served[1], http, service_token=SERVICE_TOKEN, batch_size=5000)
    longest = [f"{'k' * 63}:{'n' * 63}/{'m' * 59}{i:04d}" for i in range(1200)]

    result = await catalog.entities_by_refs(longest, ALICE)

    assert result == [None] * 1200  # one call with all of them would be a 400
    assert fake.calls["by-refs"] == 3


# --- whose token ----------------------------------------------------------------------


async def test_the_users_own_token_is_forwarded(catalog, fake):
    await catalog.entities_by_refs(["group:default/data-eng"], ALICE)
    await query(catalog)
    await catalog.facets("spec.type", ONLY_COMPONENTS, ALICE)

    assert fake.tokens_seen() == [USER_TOKEN] * 3


async def test_a_service_principal_reads_with_the_service_token(catalog, fake):
    await catalog.entities_by_refs(["group:default/data-eng"], CI)

    assert fake.tokens_seen() == [SERVICE_TOKEN]


async def test_an_anonymous_principal_reads_with_the_service_token(catalog, fake):
    await catalog.query_entities(EntityQuery(limit=1), Principal.anonymous())

    assert fake.tokens_seen() == [SERVICE_TOKEN]


async def test_a_user_without_a_token_never_gets_the_service_token(catalog, fake):
    tokenless = Principal(subject="user:default/bob", kind=PrincipalKind.USER)

    with pytest.raises(AuthenticationError, match="Missing credentials"):
        await catalog.entities_by_refs(["group:default/data-eng"], tokenless)
    assert fake.requests[0].authorization is None


# --- paging ---------------------------------------------------------------------------


async def test_paging_sees_every_item_once_across_three_pages(catalog):
    pages = await all_pages(catalog, limit=4)

    assert [len(p.items) for p in pages] == [4, 4, 2]
    assert [n for p in pages for n in names(p)] == COMPONENTS


async def test_forward_paging_takes_one_call_per_page(catalog, fake):
    await all_pages(catalog, limit=4)

    assert fake.calls["by-query"] == 3


async def test_a_pages_next_cursor_is_its_last_item_cursor(catalog):
    page = await query(catalog, limit=4)

    assert page.next_cursor == page.item_cursors[-1]
    assert len(page.item_cursors) == len(page.items)


async def test_every_item_cursor_resumes_right_after_its_item(catalog):
    pages = await all_pages(catalog, limit=4)
    cursors = [c for p in pages for c in p.item_cursors]

    for index, cursor in enumerate(cursors[:-1]):
        resumed = await query(catalog, limit=3, cursor=cursor)
        assert names(resumed) == COMPONENTS[index + 1 : index + 4], f"after item {index}"


async def test_resuming_mid_page_then_paging_on_sees_the_rest_once(catalog):
    first = await query(catalog, limit=4)
    seen = names(first)[:2]
    cursor: str | None = first.item_cursors[1]
    while cursor is not None:
        page = await query(catalog, limit=4, cursor=cursor)
        seen += names(page)
        cursor = page.next_cursor

    assert seen == COMPONENTS


async def test_the_last_page_has_no_next_cursor(catalog):
    page = await query(catalog, limit=len(COMPONENTS))

    assert names(page) == COMPONENTS
    assert page.next_cursor is None


async def test_total_is_reported_on_every_page_the_portal_counts(catalog):
    pages = await all_pages(catalog, limit=4)

    assert [p.total for p in pages] == [len(COMPONENTS)] * 3


async def test_total_is_unknown_on_later_pages_when_the_portal_counts_only_the_first(catalog, fake):
    fake.totals_on_later_pages = False

    pages = await all_pages(catalog, limit=4)

    assert [p.total for p in pages] == [len(COMPONENTS), None, None]


async def test_short_upstream_pages_are_topped_up_to_the_limit(catalog, fake):
    fake.max_page_size = 3

    pages = await all_pages(catalog, limit=4)

    assert [len(p.items) for p in pages] == [4, 4, 2]
    assert [n for p in pages for n in names(p)] == COMPONENTS


async def test_a_skip_longer_than_a_short_upstream_page_carries_into_the_next(catalog, fake):
    fifth = (await query(catalog, limit=6)).item_cursors[4]
    fake.max_page_size = 3

    page = await query(catalog, limit=3, cursor=fifth)

    assert names(page) == COMPONENTS[5:8]


async def test_the_query_asks_for_name_order_and_the_limit(catalog, fake):
    await query(catalog, limit=4)

    sent = fake.requests[0]
    assert sent.params("orderField") == ["metadata.name,asc"]
    assert sent.params("limit") == ["4"]


async def test_later_pages_send_only_the_upstream_cursor_and_limit(catalog, fake):
    first = await query(catalog, limit=4)
    await query(catalog, limit=4, cursor=first.next_cursor)

    assert {k for k, _ in fake.requests[1].query} == {"cursor", "limit"}


async def test_a_malformed_cursor_is_an_input_error(catalog, fake):
    with pytest.raises(InputError) as caught:
        await query(catalog, cursor="not-a-cursor")

    assert caught.value.source == "catalog"
    assert fake.calls["by-query"] == 0


async def test_a_cursor_of_another_filter_is_an_input_error(catalog):
    page = await query(catalog, limit=2)

    with pytest.raises(InputError):
        await query(catalog, EntityFilter(kinds=("Resource",)), cursor=page.next_cursor)


async def test_a_cursor_the_portal_rejects_is_an_input_error_with_its_message(catalog):
    forged = cursor_of({"c": "bm90IGpzb24", "o": 0})

    with pytest.raises(InputError, match="Malformed cursor"):
        await query(catalog, cursor=forged)


# --- filters --------------------------------------------------------------------------


async def test_kinds_and_spec_types_match_any_combination(catalog):
    wanted = EntityFilter(kinds=("Component", "Resource"), spec_types=("ml-model", "dataset"))

    page = await query(catalog, wanted)

    assert names(page) == [
        "anomaly-detector",
        "churn-features",
        "churn-model",
        "customer-events",
        "fraud-model",
        "ranking-model",
    ]


async def test_owner_filter_matches_any_of_the_owners(catalog):
    page = await query(catalog, EntityFilter(owners=("group:default/data-eng",)))

    assert names(page) == [
        "customer-events",
        "feature-store",
        "fraud-model",
        "fraud-training-pipeline",
    ]


async def test_owner_filter_is_anded_with_the_kind(catalog):
    page = await query(
        catalog, EntityFilter(kinds=("Resource",), owners=("group:default/data-eng",))
    )

    assert names(page) == ["customer-events"]


async def test_tag_filter(catalog):
    page = await query(catalog, EntityFilter(tag="fraud"))

    assert names(page) == ["anomaly-detector", "fraud-model"]


async def test_text_filter_searches_name_title_and_description(catalog):
    by_name = await query(catalog, EntityFilter(text="scorer"))
    by_title = await query(catalog, EntityFilter(text="Churn Model"))
    by_description = await query(catalog, EntityFilter(text="search results"))

    assert names(by_name) == ["batch-scorer"]
    assert names(by_title) == ["churn-model"]
    assert names(by_description) == ["ranking-model"]


async def test_a_comma_in_a_filter_value_is_refused_not_sent(catalog, fake):
    with pytest.raises(InputError, match="comma"):
        await query(catalog, EntityFilter(tag="fraud,kind=user"))

    assert fake.calls["by-query"] == 0


# --- facets ---------------------------------------------------------------------------


async def test_facets_count_values_among_matching_entities_sorted_by_value(catalog):
    counts = await catalog.facets("spec.type", ONLY_COMPONENTS, ALICE)

    assert counts == [("ml-model", 4), ("ml-pipeline", 4), ("service", 2)]


async def test_facets_honour_the_owner_filter(catalog):
    counts = await catalog.facets("kind", EntityFilter(owners=("group:default/data-eng",)), ALICE)

    assert counts == [("Component", 3), ("Resource", 1)]


async def test_facets_of_a_text_search_are_refused(catalog, fake):
    with pytest.raises(InputError):
        await catalog.facets("spec.type", EntityFilter(text="churn"), ALICE)

    assert fake.calls["entity-facets"] == 0


# --- errors ---------------------------------------------------------------------------


async def test_an_unknown_token_is_an_authentication_error_with_backstages_message(catalog):
    stranger = Principal(subject="user:default/eve", kind=PrincipalKind.USER, token="forged-1")

    with pytest.raises(AuthenticationError) as caught:
        await catalog.query_entities(EntityQuery(), stranger)

    assert caught.value.message == "Illegal token"
    assert caught.value.source == "catalog"


async def test_403_is_not_allowed(catalog, fake):
    fake.fail(403, "NotAllowedError", "You are not allowed to read the catalog")

    with pytest.raises(NotAllowedError) as caught:
        await catalog.entities_by_refs(["group:default/data-eng"], ALICE)

    assert caught.value.source == "catalog"


async def test_500_is_an_upstream_error_naming_neither_token_nor_body(catalog, fake):
    fake.fail(500, "Error", f"boom while handling {USER_TOKEN}")

    with pytest.raises(UpstreamError) as caught:
        await query(catalog)

    assert caught.value.source == "catalog"
    assert caught.value.message == "catalog failed with HTTP 500: Error"


async def test_a_404_is_the_catalog_api_missing_not_an_unknown_entity(catalog, fake):
    # A backend still starting (or a wrong base URL) answers 404 for the whole API; the
    # endpoints asked answer an unknown entity with null, never with 404.
    fake.fail(404, "NotFoundError", "Not Found")

    with pytest.raises(UpstreamError) as caught:
        await catalog.entities_by_refs(["group:default/data-eng"], ALICE)

    assert caught.value.code == "UPSTREAM_UNAVAILABLE"
    assert caught.value.message == "no catalog API under the configured Backstage URL (HTTP 404)"


async def test_a_slow_catalog_is_an_upstream_timeout(served, fake, http):
    fake.delay_seconds = 1.0
    impatient = BackstageCatalog(served[1], http, service_token=SERVICE_TOKEN, timeout=0.2)

    with pytest.raises(UpstreamTimeoutError) as caught:
        await impatient.entities_by_refs(["group:default/data-eng"], ALICE)

    assert caught.value.source == "catalog"


async def test_a_proxys_gateway_timeout_is_an_upstream_timeout(catalog, fake):
    fake.fail(504, "Error", "upstream request timeout")

    with pytest.raises(UpstreamTimeoutError):
        await query(catalog)


async def test_429_is_upstream_throttling(catalog, fake):
    fake.fail(429, "Error", "Too many requests")

    with pytest.raises(UpstreamThrottledError):
        await query(catalog)


async def test_an_unreachable_catalog_is_an_upstream_error(http):
    unreachable = BackstageCatalog("http://127.0.0.1:9", http, service_token=SERVICE_TOKEN)

    with pytest.raises(UpstreamError) as caught:
        await unreachable.query_entities(EntityQuery(), ALICE)

    assert caught.value.source == "catalog"
    assert USER_TOKEN not in caught.value.message


async def test_a_missing_by_query_endpoint_is_the_catalog_unavailable(served, http):
    wrong_path = BackstageCatalog(f"{served[1]}/nothing-here", http)

    with pytest.raises(UpstreamError, match=r"no catalog API under .* \(HTTP 404\)"):
        await wrong_path.query_entities(EntityQuery(), ALICE)


# --- readiness ------------------------------------------------------------------------


async def test_check_passes_with_the_service_token(catalog, fake):
    await catalog.check()

    assert fake.tokens_seen() == [SERVICE_TOKEN]
    assert fake.requests[0].params("limit") == ["1"]


async def test_check_fails_clearly_when_the_service_token_is_rejected(served, fake, http):
    wrong = BackstageCatalog(served[1], http, service_token="not-the-service-token")

    with pytest.raises(UpstreamError, match="catalog rejected the gateway's service token"):
        await wrong.check()


async def test_check_fails_clearly_without_a_service_token(served, fake, http):
    tokenless = BackstageCatalog(served[1], http)

    with pytest.raises(UpstreamError, match="catalog rejected the gateway's service token"):
        await tokenless.check()
