"""The bulk writers, on whichever database the suite runs against (SQLite by default,
PostgreSQL with ``DATABASE_URL``): COPY there, ``executemany`` here, the same rows either way."""

from __future__ import annotations

import json

import pytest
from django.db import connection, transaction
from django.utils import timezone

from annotation import bulk
from annotation.curation.models import DuplicateCluster
from annotation.items.models import Item

FIELDS = ("project", "external_id", "kind", "text", "content_hash", "metadata", "gold", "state", "priority",
          "votes_count", "leased_count", "extra_votes", "created_at", "flags", "curation", "excluded_from",
          "image", "thumbnail")  # fmt: skip


def row(project, n, *, ext=None, digest=None, metadata=None):
    stamp = connection.ops.adapt_datetimefield_value(timezone.now())
    return (
        project.pk, ext if ext is not None else f"r{n}", "text", f"text {n}", digest or f"hash-{n}",
        json.dumps(metadata or {"n": n, "name": "é \"quoted\"\ttab"}), json.dumps("cat") if n % 2 else None,
        "queued", float(n), 0, 0, 0, stamp, "{}", "", "", "", "",
    )  # fmt: skip


def test_insert_rows_writes_every_row_with_json_and_keys(team, django_assert_max_num_queries):
    rows = [row(team.project, n) for n in range(2500)]
    with transaction.atomic(), django_assert_max_num_queries(1):  # one COPY / one executemany
        bulk.insert_rows(Item, FIELDS, rows)
    items = list(Item.objects.filter(project=team.project).order_by("priority"))
    assert len(items) == 2500
    assert [i.external_id for i in items[:3]] == ["r0", "r1", "r2"]
    assert items[7].metadata == {"n": 7, "name": "é \"quoted\"\ttab"} and items[7].gold == "cat" and items[8].gold is None
    assert items[7].project == team.project and items[7].created_at is not None


def test_insert_rows_with_nothing_to_insert_runs_no_query(team, django_assert_num_queries):
    with django_assert_num_queries(0):
        bulk.insert_rows(Item, FIELDS, [])
        assert bulk.insert_new_rows(Item, FIELDS, []) == 0


def test_insert_rows_refuses_the_whole_batch_on_a_duplicate(team):
    bulk.insert_rows(Item, FIELDS, [row(team.project, 0)])
    with pytest.raises(Exception), transaction.atomic():  # noqa: B017 - IntegrityError or psycopg's UniqueViolation
        bulk.insert_rows(Item, FIELDS, [row(team.project, 1), row(team.project, 2, digest="hash-0")])
    assert Item.objects.filter(project=team.project).count() == 1


def test_insert_new_rows_leaves_out_rows_that_hit_a_unique_constraint(team):
    bulk.insert_rows(Item, FIELDS, [row(team.project, 0)])
    with transaction.atomic():
        went_in = bulk.insert_new_rows(
            Item, FIELDS, [row(team.project, 1), row(team.project, 2, digest="hash-0"), row(team.project, 3, ext="r1", digest="other")]
        )
        # Twice in one transaction: the staging table is emptied between batches.
        again = bulk.insert_new_rows(Item, FIELDS, [row(team.project, 4), row(team.project, 1)], durable=False)
    assert (went_in, again) == (1, 1)
    assert sorted(Item.objects.filter(project=team.project).values_list("external_id", flat=True)) == ["r0", "r1", "r4"]
    assert Item.objects.get(external_id="r1").text == "text 1"


def test_update_rows_sets_the_fields_of_the_rows_named_and_no_others(team, django_assert_max_num_queries):
    bulk.insert_rows(Item, FIELDS, [row(team.project, n) for n in range(1200)])
    items = list(Item.objects.filter(project=team.project).order_by("pk").values_list("pk", flat=True))
    cluster = DuplicateCluster.objects.create(project=team.project, representative_id=items[0], size=2)
    changed = [(pk, cluster.pk if n < 2 else None, n, {"blurry": n / 10}) for n, pk in enumerate(items[:1000])]
    with transaction.atomic(), django_assert_max_num_queries(4):
        bulk.update_rows(Item, ["cluster", "cluster_distance", "flags"], changed)
    with transaction.atomic():  # a second call in one transaction: its temporary table is gone
        bulk.update_rows(Item, ["flags"], [(items[-1], {"dark": 1.0})])
        bulk.update_rows(Item, ["flags"], [(items[-2], {"bright": 2.0})])
    got = {pk: (c, d, f) for pk, c, d, f in Item.objects.values_list("pk", "cluster_id", "cluster_distance", "flags")}
    assert got[items[0]] == (cluster.pk, 0, {"blurry": 0.0})
    assert got[items[1]] == (cluster.pk, 1, {"blurry": 0.1})
    assert got[items[999]] == (None, 999, {"blurry": 99.9})
    assert got[items[1000]] == (None, None, {})  # not named: untouched
    assert got[items[-1]][2] == {"dark": 1.0} and got[items[-2]][2] == {"bright": 2.0}


@pytest.mark.django_db(transaction=True)
def test_update_rows_needs_a_transaction():
    """On PostgreSQL its temporary table lives until the commit; outside one it is refused."""
    with pytest.raises(RuntimeError, match="inside a transaction"):
        bulk.update_rows(Item, ["flags"], [(1, {"x": 1})])
