"""Server time of the web pages (issue #3: under 300 ms p95 on 100,000 demo deals).

Each page is requested through Django's test Client inside one process on the loaded
database: the whole request (middleware, session, view, SQL, template) is timed, and nothing
of the network or the browser. The board, its summary and its lazily loaded columns, the deal
page, the lists and the dashboard are timed as an admin (who sees every deal); the board, the
deals list and the dashboard also as a rep, whose visibility rule narrows every query.

Samples vary the record: every pipeline's board, every stage's column, a different deal for
each sample. A list whose URL name does not exist yet is left out.

    python -m bench.pages [--samples 50] [--only board] [--out figures.json]
"""

from __future__ import annotations

import random
import re
from urllib.parse import urlencode

from bench.inprocess import Case, main

SAMPLES = 50
DEALS_SAMPLED = 200
LISTS = ("deals", "organizations", "persons", "products", "activities")
NEXT_CURSOR = re.compile(r"cursor=([A-Za-z0-9_\-%=]+)")


def signed_in(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def fetch(client, url: str) -> str:
    """The page's HTML; anything but 200 stops the bench (a 302 to sign-in or a 500 would be
    timed as fast otherwise)."""
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"GET {url} answered {response.status_code}.")
    return response.content.decode()


def cycling(client, urls: list[str]):
    return lambda i: fetch(client, urls[i % len(urls)])


def next_page(client, url: str) -> str | None:
    """The URL of the page after `url`'s, from its "Load more" button."""
    found = NEXT_CURSOR.search(fetch(client, url))
    if found is None:
        return None
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}cursor={found[1]}"


def sample_deal_ids(count: int) -> list[int]:
    """`count` deals spread over the table, found by primary key ranges (no ORDER BY random)."""
    from django.db.models import Max, Min

    from ruche.pipelines.models import Deal

    live = Deal.objects.filter(is_deleted=False)
    bounds = live.aggregate(low=Min("pk"), high=Max("pk"))
    rng = random.Random(3)
    ids = []
    for _ in range(count):
        start = rng.randint(bounds["low"], bounds["high"])
        ids.append(live.filter(pk__gte=start).order_by("pk").values_list("pk", flat=True)[0])
    return ids


def list_urls() -> dict[str, str]:
    """The list pages that exist so far, by URL name."""
    from django.urls import NoReverseMatch, reverse

    found = {}
    for name in LISTS:
        try:
            found[name] = reverse(f"web:{name}")
        except NoReverseMatch:
            continue
    return found


def board_cases(client, who: str, pipelines, stages) -> list[Case]:
    from django.urls import reverse

    boards = [reverse("web:board", args=[p.pk]) for p in pipelines]
    summaries = [reverse("web:board_summary", args=[p.pk]) for p in pipelines]
    columns = [reverse("web:board_column", args=[stage.pipeline_id, stage.pk]) for stage in stages]
    second_pages = [url for url in (next_page(client, c) for c in columns) if url]
    cases = [
        Case(f"board{who}", cycling(client, boards)),
        Case(f"board summary{who}", cycling(client, summaries)),
        Case(f"board column, first page{who}", cycling(client, columns)),
    ]
    if second_pages:
        cases.append(Case(f"board column, next page{who}", cycling(client, second_pages)))
    return cases


def list_cases(client, who: str, name: str, url: str, stages) -> list[Case]:
    cases = [Case(f"list {name}{who}", cycling(client, [url]))]
    if name != "deals":
        return cases
    funnel_clicks = [
        f"{url}?{urlencode({'status': 'open', 'pipeline': s.pipeline_id, 'stage': s.pk})}"
        for s in stages
    ]
    by_value = f"{url}?sort=-value_minor"
    cases += [
        Case(f"list deals, sorted by value{who}", cycling(client, [by_value])),
        Case(f"list deals, pipeline and stage{who}", cycling(client, funnel_clicks)),
        *search_cases(client, who, url),
    ]
    deeper = next_page(client, url)
    if deeper:
        cases.append(Case(f"list deals, next page{who}", cycling(client, [deeper])))
    return cases


def search_cases(client, who: str, url: str) -> list[Case]:
    """A word in many titles, and one organisation's name: a rare term, which no plan finds by
    walking the list's order and stopping early."""
    from ruche.contacts.models import Organization

    one_organisation = Organization.objects.order_by("pk").values_list("name", flat=True)[0]
    return [
        Case(f"list deals, search{who}", cycling(client, [f"{url}?q=Renouvellement"])),
        Case(
            f"list deals, search one organisation{who}",
            cycling(client, [f"{url}?{urlencode({'q': one_organisation})}"]),
        ),
    ]


def dashboard_cases(client, who: str, pipelines, today) -> list[Case]:
    from django.urls import reverse

    url = reverse("web:dashboard")
    per_pipeline = [f"{url}?pipeline={p.pk}" for p in pipelines]
    year = f"{url}?from={today.replace(month=1, day=1)}&to={today.replace(month=12, day=31)}"
    return [
        Case(f"dashboard{who}", cycling(client, [url])),
        Case(f"dashboard, per pipeline{who}", cycling(client, per_pipeline)),
        Case(f"dashboard, this year{who}", cycling(client, [year])),
    ]


def build_cases() -> list[Case]:
    from django.contrib.auth import get_user_model
    from django.urls import reverse
    from django.utils import timezone

    from ruche.pipelines.selectors import pipeline_list, stage_list

    User = get_user_model()
    active = User.objects.filter(is_active=True).order_by("pk")
    admin = signed_in(active.filter(role=User.Role.ADMIN).first())
    rep = signed_in(active.filter(role=User.Role.REP, team__isnull=False).first())
    pipelines = list(pipeline_list().order_by("pk"))
    stages = list(stage_list().order_by("pipeline_id", "order_nr", "pk"))
    deal_urls = [reverse("web:deal", args=[pk]) for pk in sample_deal_ids(DEALS_SAMPLED)]
    today = timezone.localdate()

    cases = board_cases(admin, "", pipelines, stages)
    cases.append(Case("deal page", cycling(admin, deal_urls)))
    for name, url in list_urls().items():
        cases += list_cases(admin, "", name, url, stages)
    cases += dashboard_cases(admin, "", pipelines, today)
    rep_board, *_ = board_cases(rep, ", as a rep", pipelines, stages)
    deals_url = reverse("web:deals")
    cases += [
        rep_board,
        Case("list deals, as a rep", cycling(rep, [deals_url])),
        *search_cases(rep, ", as a rep", deals_url),
        dashboard_cases(rep, ", as a rep", pipelines, today)[0],
    ]
    return cases


if __name__ == "__main__":
    main(__doc__.split("\n")[0], build_cases, SAMPLES)
