"""The agreement page: who may see it, what it draws, and that names stay text."""

from __future__ import annotations

import re

import numpy as np
import pytest
from django.test import Client

from annotation.imports.votes import votes_import
from annotation.rulebook import services as rulebook_services
from consensus import adapters, metrics
from consensus.decisions.models import Estimate
from consensus.reporting import agreement as reports
from tests.conftest import labels, publish

EVIL = "<script>alert(1)</script>"


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(team, suffix: str = "") -> str:
    return f"/p/{team.project.slug}/agreement/{suffix}"


def import_votes(team, rows: list[tuple[str, str, str]], *, decide: bool = True) -> None:
    csv = "item,annotator,label\n" + "".join(f"{i},{a},{lab}\n" for i, a, lab in rows)
    team.project.refresh_from_db()
    votes_import(actor=team.admin, project=team.project, votes=csv.encode(), create_items=True, decide=decide)


def crowd_rows() -> list[tuple[str, str, str]]:
    """Six items: ann and bob agree on all six, cy disagrees with them on two; dee labels two
    items only (too few to compare), and so does a worker with a hostile name."""
    truth = ["cat", "dog", "cat", "dog", "cat", "dog"]
    rows = []
    for n, lab in enumerate(truth):
        item = f"i{n}"
        rows += [(item, "ann", lab), (item, "bob", lab), (item, "cy", "dog" if n in (0, 2) else lab)]
    rows += [("i0", "dee", "dog"), ("i1", "dee", "dog"), ("i0", EVIL, "cat"), ("i1", EVIL, "cat")]
    return rows


@pytest.fixture
def crowd(team):
    publish(team, "cat", "dog")
    import_votes(team, crowd_rows())
    return team


def page(client: Client, team) -> str:
    response = client.get(url(team))
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("role", ["admin", "reviewer"])
def test_page_draws_alpha_labels_heat_map_histogram_and_annotators(crowd, role):
    html = page(login(crowd.user(role)), crowd)
    pv = adapters.project_votes(project_id=crowd.project.pk, labels=["cat", "dog"])
    shown = float(re.search(r'data-testid="alpha">([-0-9.]+)<', html).group(1))
    assert shown == pytest.approx(metrics.alpha_nominal(pv.votes), abs=5e-4)
    assert re.search(r'data-testid="alpha-interval">[-0-9.]+ to [-0-9.]+<', html)
    assert 'data-testid="items">6<' in html and 'data-testid="votes">22<' in html
    assert "health signal, not a gate" in html
    # per label: one bar per rulebook label, named from the rulebook
    assert html.count('class="label-bar"') == 2 and ">Cat</text>" in html and ">Dog</text>" in html
    # heat map: every ordered pair of the five annotators, the well-shared ones with figures
    assert html.count('class="cell"') == 5 * 4
    assert "ann (imported) vs bob (imported): 100% on 6 shared items" in html
    assert "ann (imported) vs cy (imported): 67% on 6 shared items" in html
    assert "ann (imported) vs dee (imported): 2 shared items, too few to say" in html
    # histogram: ten bins, one tooltip each, over the six items with two or more votes
    assert html.count('class="hist-bar"') == 10 and "over the 6 items with two or more votes" in html
    assert "60%–70% agreement: 2 items" in html  # 3/5 and 2/3, each in its own bin's lower edge
    assert "80%–90% agreement: 1 item<" in html and "90%–100% agreement: 3 items" in html
    # annotators, from the latest estimate
    table = html[html.index('id="annotators"') :]
    for name in ("ann (imported)", "bob (imported)", "cy (imported)", "dee (imported)"):
        assert f"<td>{name}</td>" in table
    assert 'data-testid="estimate"' in table and " by auto in " in table
    assert ("Re-estimate now" in table) == (role == "admin")


def test_tabs_link_the_page_for_admins_and_reviewers_only(crowd):
    link = f'href="/p/{crowd.project.slug}/agreement/"'
    assert link in page(login(crowd.reviewer), crowd)
    overview = login(crowd.annotator).get(f"/p/{crowd.project.slug}/").content.decode()
    assert link not in overview


@pytest.mark.parametrize(
    ("role", "status"), [("annotator", 403), ("outsider", 404), ("anonymous", 302)]
)  # fmt: skip
def test_page_is_for_admins_and_reviewers(crowd, role, status):
    user = crowd.user(role)
    client = login(user) if user else Client()
    response = client.get(url(crowd))
    assert response.status_code == status
    if status == 302:
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("role", "status"), [("reviewer", 403), ("annotator", 403), ("outsider", 404), ("anonymous", 302)]
)  # fmt: skip
def test_only_admins_may_reestimate(crowd, role, status):
    user = crowd.user(role)
    client = login(user) if user else Client()
    before = Estimate.objects.filter(project=crowd.project).count()
    assert client.post(url(crowd, "reestimate/")).status_code == status
    assert Estimate.objects.filter(project=crowd.project).count() == before


def test_names_and_labels_are_escaped(team):
    evil_labels = labels("cat", "dog")
    evil_labels[0]["name"] = "<b>Cat</b>"
    rulebook_services.rulebook_draft_save(
        actor=team.admin, project=team.project, guidelines="", unclear_instructions="", do_not_label="",
        labels=evil_labels,
    )  # fmt: skip
    rulebook_services.rulebook_publish(actor=team.admin, project=team.project)
    import_votes(team, crowd_rows())
    html = page(login(team.admin), team)
    assert "<script>alert" not in html and "<b>Cat</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; (imported)" in html  # table and tooltips
    assert "&lt;b&gt;Cat&lt;/b&gt;" in html


def test_reestimate_button_creates_an_estimate(team):
    publish(team, "cat", "dog")
    import_votes(team, crowd_rows(), decide=False)
    client = login(team.admin)
    html = page(client, team)
    assert 'data-testid="no-estimate"' in html and "Re-estimate now" in html
    response = client.post(url(team, "reestimate/"), follow=True)
    assert response.redirect_chain == [(url(team), 302)]
    estimate = Estimate.objects.get(project=team.project)
    assert estimate.votes == 22 and estimate.reliabilities.count() == 5
    html = response.content.decode()
    assert "Re-estimated from 22 votes on 6 items" in html
    assert 'data-testid="estimate"' in html and 'data-testid="no-estimate"' not in html


def test_reestimate_is_post_only(crowd):
    assert login(crowd.admin).get(url(crowd, "reestimate/")).status_code == 405


def test_empty_project_without_rulebook(team):
    html = page(login(team.admin), team)
    assert "No rulebook and no votes yet" in html and "Write the rulebook" in html
    assert 'class="cell"' not in html and "Re-estimate now" not in html


def test_published_rulebook_without_votes(team):
    publish(team, "cat", "dog")
    html = page(login(team.reviewer), team)
    assert "No votes yet" in html and 'data-testid="no-estimate"' in html
    assert "Re-estimate now" not in html  # reviewers cannot
    assert "Re-estimate now" in page(login(team.admin), team)


def test_alpha_is_not_defined_when_everyone_says_the_same(team):
    publish(team, "cat", "dog")
    import_votes(team, [(f"i{n}", a, "cat") for n in range(3) for a in ("ann", "bob")])
    html = page(login(team.admin), team)
    assert 'data-testid="alpha">not defined yet<' in html
    assert "needs items with two or more votes" in html
    assert "alpha-interval" not in html


def test_single_votes_leave_alpha_undefined_and_no_histogram(team):
    publish(team, "cat", "dog")
    import_votes(team, [("i0", "ann", "cat"), ("i1", "bob", "dog")])
    html = page(login(team.admin), team)
    assert 'data-testid="alpha">not defined yet<' in html
    assert "No item has two or more votes yet." in html


def test_heat_map_keeps_the_thirty_busiest_annotators(team):
    publish(team, "cat", "dog")
    rows = [
        (f"i{n}", f"w{a:02d}", "cat" if (n + a) % 3 else "dog") for a in range(34) for n in range(a % 6 + 1)
    ]
    import_votes(team, rows)
    html = page(login(team.admin), team)
    assert html.count('class="cell"') == 30 * 29
    assert "for the 30 of 34 annotators with most votes" in html


def test_page_queries_do_not_grow_with_annotators(team, django_assert_max_num_queries):
    publish(team, "cat", "dog")
    rows = [(f"i{n}", f"w{a}", "cat" if (n * a) % 4 else "dog") for a in range(40) for n in range(8)]
    import_votes(team, rows)
    client = login(team.admin)
    with django_assert_max_num_queries(10):
        html = page(client, team)
    assert html.count("(imported)</td>") == 40


def test_multiple_choice_answers_count_for_each_of_their_labels():
    # Two annotators: "a+b" and "a+b", then "a+b" and "a", then "b" and "b". They agree on "a"
    # everywhere and on "b" but once: "a" is perfect, "b" is not.
    answers = ["a", "a+b", "b"]
    item = np.array([0, 0, 1, 1, 2, 2])
    label = np.array([1, 1, 1, 0, 2, 2])  # indices into answers
    votes = metrics.Votes(item, np.array([0, 1] * 3), label, n_items=3, n_annotators=2, n_labels=3)
    pv = adapters.ProjectVotes(
        votes, np.arange(6), np.arange(3), ["queued"] * 3, np.zeros(3, int), np.zeros(3, int),
        np.zeros(3, int), np.full(3, -1), [(None, 1), (None, 2)], answers,
    )  # fmt: skip
    chart = reports.label_alpha_chart(pv=pv, rulebook_labels=[{"key": "a", "name": "A", "color": "#123456"}])
    assert [(b.key, b.name, b.color, b.votes) for b in chart.bars] == [
        ("a", "A", "#123456", 4),
        ("b", "b", reports.OTHER_COLOR, 5),
    ]
    assert chart.bars[0].alpha == pytest.approx(1.0) and chart.bars[1].alpha < 1.0
