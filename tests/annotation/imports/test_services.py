"""Importing items through the service and the command line: kept, skipped and refused rows."""

import io
import json
import tracemalloc
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.imports import services as imports
from annotation.imports.models import ImportJob
from annotation.items.models import Item
from tests.conftest import image_bytes, jsonl, publish, zip_bytes


def run(team, name, data, **kw):
    job = imports.import_create(actor=team.admin, project=team.project, name=name, upload=io.BytesIO(data))
    return imports.import_start(job=job, **kw)


def test_jsonl_keeps_good_rows_and_reports_bad_ones(team):
    publish(team, "cat", "dog")
    data = jsonl(
        [
            {"id": "a", "text": "first", "metadata": {"lang": "en"}, "gold": "cat"},
            {"id": "b", "text": "second", "gold": "bird"},
            "{oops",
            {"id": "c", "text": "third"},
        ]
    )
    job = run(team, "items.jsonl", data)
    assert (job.status, job.total, job.created, job.skipped, job.failed) == ("done", 4, 2, 0, 2)
    assert job.errors == [
        {"row": "line 2", "field": "gold", "reason": "gold 'bird' is not a label of rulebook v1 (cat, dog)"},
        {"row": "line 3", "field": "line", "reason": "not valid JSON: Expecting property name enclosed in double quotes (column 2)"},
    ]
    items = {i.external_id: i for i in Item.objects.filter(project=team.project)}
    assert set(items) == {"a", "c"}
    assert (items["a"].metadata, items["a"].gold, items["a"].state) == ({"lang": "en"}, "cat", "queued")
    assert not ImportJob.objects.get(pk=job.pk).source_path or not default_storage.exists(job.source_path)


def test_reimport_skips_same_id_and_same_content(team):
    run(team, "one.jsonl", jsonl([{"id": "a", "text": "hello"}]))
    job = run(team, "two.jsonl", jsonl([{"id": "a", "text": "changed"}, {"id": "z", "text": "hello"}, {"id": "n", "text": "new"}, {"id": "n", "text": "dup in file"}]))
    assert (job.created, job.skipped, job.failed) == (1, 3, 0)
    assert [s["reason"] for s in job.skipped_rows] == [
        "id 'n' appears earlier in this import",
        "id 'a' is already in the project",
        "exact duplicate of item 'a' (the same text, ignoring case, spacing and Unicode form)",
    ]
    assert Item.objects.filter(project=team.project).count() == 2
    assert Item.objects.get(project=team.project, external_id="a").text == "hello"  # never overwritten


def test_texts_that_differ_only_in_case_spacing_or_unicode_form_are_exact_duplicates(team):
    job = run(team, "t.jsonl", jsonl([
        {"id": "a", "text": "Café  au lait"}, {"id": "b", "text": "CAFE\u0301 au\tlait "}, {"id": "c", "text": "Cafe au lait"},
    ]))  # fmt: skip
    assert (job.created, job.skipped) == (2, 1)
    assert job.skipped_rows == [{"row": "line 2", "reason": "exact duplicate of line 1 in this import (the same text, ignoring case, spacing and Unicode form)"}]


def test_text_file_one_item_per_line(team):
    job = run(team, "lines.txt", b"alpha\nbeta\n\nalpha\n")
    assert (job.created, job.skipped) == (2, 1)
    assert sorted(Item.objects.values_list("text", flat=True)) == ["alpha", "beta"]


def test_csv_with_missing_columns_imports_nothing_and_says_why(team):
    job = run(team, "items.csv", b"id,caption\n1,hello\n")
    assert (job.created, job.failed) == (0, 1)
    assert job.errors[0]["row"] == "line 1" and "needs a 'text' or an 'image' column" in job.errors[0]["reason"]


def test_csv_columns_become_metadata(team):
    job = run(team, "items.csv", b"id,text,source,split\n1,hello,web,train\n2,bye,,test\n")
    assert job.created == 2
    assert dict(Item.objects.values_list("external_id", "metadata")) == {"1": {"source": "web", "split": "train"}, "2": {"split": "test"}}


def test_zip_of_images_stores_files_and_thumbnails(image_team):
    data = zip_bytes(
        {
            "cats/a.jpg": image_bytes("JPEG", (640, 480)),
            "cats/b.png": image_bytes("PNG", (100, 100), (0, 0, 255)),
            "cats/c.jpg": b"I am a text file named .jpg",
            "../escape.jpg": image_bytes("JPEG", (10, 10), (1, 2, 3)),
            "cats/truncated.webp": image_bytes("WEBP", (300, 300), (9, 9, 9))[:60],
        }
    )
    job = run(image_team, "photos.zip", data)
    assert (job.created, job.failed) == (2, 3)
    assert {e["row"] for e in job.errors} == {"cats/c.jpg", "../escape.jpg", "cats/truncated.webp"}
    item = Item.objects.get(external_id="cats/a.jpg")
    assert (item.kind, item.width, item.height) == ("image", 640, 480)
    assert default_storage.exists(item.image) and default_storage.exists(item.thumbnail)
    assert item.thumbnail.endswith(".jpg") and item.image.endswith(".jpg")


def test_oversized_image_is_refused(image_team, settings):
    settings.QUORUM_MAX_IMAGE_BYTES = 10_000
    job = run(image_team, "big.zip", zip_bytes({"big.png": image_bytes("PNG", (400, 400)) + b"\0" * 20_000, "ok.jpg": image_bytes("JPEG", (10, 10))}))
    assert (job.created, job.failed) == (1, 1)
    assert job.errors[0]["reason"] == "file is 20.9 KB; the limit is 9.8 KB"


def test_wrong_kind_of_row_for_the_project(image_team):
    job = run(image_team, "t.jsonl", jsonl([{"id": "x", "text": "words"}]))
    assert job.errors == [{"row": "line 1", "field": "image", "reason": "this project labels images; the row has text"}]


def test_unknown_format_is_refused_before_anything_is_stored(team):
    with pytest.raises(Exception, match="not a format Quorum imports"):
        imports.import_create(actor=team.admin, project=team.project, name="data.xlsx", upload=io.BytesIO(b"x"))
    assert not ImportJob.objects.exists()


def test_large_import_runs_as_a_background_task(team, settings, django_capture_on_commit_callbacks):
    from django_tasks import default_task_backend

    from annotation.tasks import import_run_task

    settings.QUORUM_IMPORT_INLINE_BYTES = 10
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    job = imports.import_create(actor=team.admin, project=team.project, name="x.txt", upload=io.BytesIO(b"one\ntwo\n" * 3))
    with django_capture_on_commit_callbacks(execute=True):
        returned = imports.import_start(job=job)
    assert returned.status == "pending"  # the request returns at once
    (queued,) = default_task_backend.results
    assert queued.task.func is import_run_task.func and queued.kwargs == {"job_id": job.pk}
    import_run_task.call(**queued.kwargs)  # what a worker does
    job.refresh_from_db()
    assert (job.status, job.created, job.skipped) == ("done", 2, 4)


def test_import_items_command_imports_a_folder_and_reports_errors(image_team, tmp_path, capsys):
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(image_bytes("JPEG", (50, 50)))
    (folder / "b.tiff").write_bytes(image_bytes("TIFF", (50, 50), (0, 255, 0)))
    (folder / "bad.jpg").write_bytes(b"not really")
    call_command("import_items", image_team.project.slug, str(folder))
    out, err = capsys.readouterr()
    assert "3 rows, 2 imported, 0 skipped, 1 errors" in out
    assert "bad.jpg: image: not an image" in err
    assert (folder / "a.jpg").exists()  # a local source is read in place, never deleted
    call_command("import_items", image_team.project.slug, str(folder))
    assert "0 imported, 2 skipped, 1 errors" in capsys.readouterr().out


def test_import_items_command_unknown_project(db):
    with pytest.raises(CommandError, match="No project with slug 'nope'"):
        call_command("import_items", "nope", "x.jsonl")


def test_gold_for_multi_choice_is_a_list(db):
    from tests.conftest import make_team

    multi = make_team("text", "multi")
    publish(multi, "red", "blue")
    job = run(multi, "m.jsonl", jsonl([{"id": 1, "text": "a", "gold": ["red", "blue"]}, {"id": 2, "text": "b", "gold": "red"}, {"id": 3, "text": "c", "gold": {"x": 1}}]))
    assert job.created == 2 and job.failed == 1
    assert dict(Item.objects.values_list("external_id", "gold")) == {"1": ["red", "blue"], "2": ["red"]}
    assert json.dumps(job.errors[0]).count("gold must be a label key") == 1


def test_rows_another_import_inserted_meanwhile_count_as_skipped(team, monkeypatch):
    run(team, "one.jsonl", jsonl([{"id": "a", "text": "hello"}, {"id": "b", "text": "world"}]))
    # Simulate the race: the duplicate check runs before a concurrent import commits.
    monkeypatch.setattr(imports, "_existing_items", lambda *args: [])
    job = run(team, "two.jsonl", jsonl([{"id": "a", "text": "hello"}, {"id": "c", "text": "new"}]))
    assert (job.created, job.skipped, job.failed) == (1, 1, 0)
    assert Item.objects.filter(project=team.project).count() == 3


def test_broken_characters_fail_their_row_only(team):
    rows = [
        '{"id": "s", "text": "lone \\ud800 surrogate"}',
        '{"id": "n", "text": "nul \\u0000 inside"}',
        '{"id": "m", "text": "fine", "metadata": {"k": "bad \\u0000"}}',
        {"id": "ok", "text": "the good row"},
    ]
    job = run(team, "b.jsonl", jsonl(rows))
    assert (job.status, job.created, job.failed) == ("done", 1, 3)
    assert [(e["row"], e["field"]) for e in job.errors] == [("line 1", "text"), ("line 2", "text"), ("line 3", "metadata")]
    assert "lone surrogate" in job.errors[0]["reason"] and "NUL" in job.errors[1]["reason"]


def test_byte_order_mark_is_not_part_of_the_first_row(team):
    job = run(team, "bom.jsonl", b"\xef\xbb\xbf" + jsonl([{"id": "a", "text": "first"}]))
    assert (job.created, job.failed) == (1, 0)
    job = run(team, "bom.txt", b"\xef\xbb\xbfhello\nworld\n")
    assert sorted(Item.objects.filter(project=team.project).values_list("text", flat=True)) == ["first", "hello", "world"]


def test_a_corrupted_zip_entry_fails_alone(image_team):
    import zipfile as zf_mod

    data = io.BytesIO()
    with zf_mod.ZipFile(data, "w", compression=zf_mod.ZIP_DEFLATED) as zf:
        zf.writestr("a.jpg", image_bytes("JPEG", (30, 30), (1, 1, 1)))
        zf.writestr("b.jpg", image_bytes("JPEG", (30, 30), (200, 1, 1)))
    raw = bytearray(data.getvalue())
    start = raw.index(b"b.jpg") + len("b.jpg")  # the local header's name, then b.jpg's deflate stream
    for i in range(start + 10, start + 40):
        raw[i] ^= 0xFF
    job = run(image_team, "c.zip", bytes(raw))
    assert (job.status, job.created, job.failed) == ("done", 1, 1)
    assert job.errors[0]["row"] == "b.jpg" and job.errors[0]["reason"].startswith("could not be read")


def test_a_batch_the_database_refuses_is_retried_row_by_row(team, monkeypatch):
    real = imports._insert_items

    def picky(rows):
        if any(r[3] == "poison" for r in rows):
            from django.db import DatabaseError

            raise DatabaseError("value too long for type character varying(500)\nDETAIL: …")
        return real(rows)

    monkeypatch.setattr(imports, "_insert_items", picky)
    job = run(team, "p.jsonl", jsonl([{"id": "1", "text": "good"}, {"id": "2", "text": "poison"}, {"id": "3", "text": "also good"}]))
    assert (job.created, job.failed) == (2, 1)
    assert job.errors == [{"row": "line 2", "field": "row", "reason": "the database refused this row: value too long for type character varying(500)"}]


def test_an_upload_with_nothing_in_it_says_so(image_team):
    job = run(image_team, "empty.zip", zip_bytes({"readme.md": b"# nothing here\n"}))
    assert (job.status, job.created) == ("done", 0)
    assert job.message == "Nothing was imported: every row was refused; the reasons are below."
    assert job.errors == [{"row": "readme.md", "field": "file", "reason": "not an image file name (.md); skipped"}]
    job = run(image_team, "nothing.zip", zip_bytes({}))
    assert (job.status, job.total) == ("done", 0) and "no images Quorum reads" in job.message


# --- uploads written to hurt (issue 15) ------------------------------------------------------------


def long_line_upload(fmt: str, long: str) -> tuple[str, bytes, str]:
    """(file name, bytes, how its rows are named): a good row, a row of ``long``, a good row."""
    if fmt == "csv":
        return "items.csv", f"id,text\n1,before\n2,{long}\n3,after\n".encode(), ""
    if fmt == "txt":
        return "items.txt", f"before\n{long}\nafter\n".encode(), ""
    manifest = jsonl([{"id": "1", "text": "before"}, {"id": "2", "text": long}, {"id": "3", "text": "after"}])
    if fmt == "jsonl":
        return "items.jsonl", manifest, ""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("items.jsonl", manifest)
    return "items.zip", out.getvalue(), "items.jsonl "


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "txt", "zip"])
def test_a_line_over_the_limit_fails_its_row_without_being_held(team, settings, fmt):
    """A 32 MB line is read past in pieces: the import's memory grows by far less than the line."""
    settings.QUORUM_MAX_LINE_BYTES = 64 * 1024
    settings.QUORUM_IMPORT_INLINE_BYTES = 10**9  # run it here, to measure it
    run(team, "warm.jsonl", jsonl([{"id": "w", "text": "warm"}]))  # what a first import loads, before measuring
    name, data, prefix = long_line_upload(fmt, "a" * 32 * 1024**2)
    job = imports.import_create(actor=team.admin, project=team.project, name=name, upload=io.BytesIO(data))
    del data
    tracemalloc.start()
    try:
        job = imports.import_start(job=job)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (job.status, job.created, job.failed) == ("done", 2, 1)
    assert job.errors == [{
        "row": f"{prefix}line {3 if fmt == 'csv' else 2}", "field": "text" if fmt == "txt" else "line",
        "reason": f"{'row' if fmt == 'csv' else 'line'} is longer than 64.0 KB, the limit for one line; skipped unread",
    }]  # fmt: skip
    assert sorted(Item.objects.filter(project=team.project).values_list("text", flat=True)) == ["after", "before", "warm"]
    assert peak < 8 * 1024**2, f"peak {peak / 1024**2:.1f} MB while reading a 32 MB line"


def test_a_manifest_over_its_size_limit_is_refused_unread(team, settings):
    settings.QUORUM_MAX_MANIFEST_BYTES = 1024**2
    big = jsonl([{"id": f"b{n}", "text": f"big {n} " + "x" * 1000} for n in range(2000)])
    job = run(team, "two.zip", zip_bytes({"big.jsonl": big, "small.jsonl": jsonl([{"id": "s", "text": "small"}])}))
    assert job.errors == [{
        "row": "big.jsonl", "field": "file",
        "reason": f"the file is {len(big) / 1024**2:.1f} MB uncompressed; the limit for a JSONL, CSV or text file is 1.0 MB",
    }]  # fmt: skip
    assert list(Item.objects.filter(project=team.project).values_list("external_id", flat=True)) == ["s"]
    job = run(team, "big.jsonl", big)  # uploaded alone, the same
    assert (job.created, job.failed, job.errors[0]["row"]) == (0, 1, "big.jsonl")


def test_an_import_goes_to_the_background_by_what_it_will_read_not_by_its_upload(team, settings, django_capture_on_commit_callbacks):
    """A zip of a few KB holding 5 MB of rows is not run in the request, even when asked to."""
    from django_tasks import default_task_backend

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("items.jsonl", jsonl([{"id": str(n), "text": "same words " * 40 + str(n)} for n in range(10_000)]))
    data = out.getvalue()
    assert len(data) < settings.QUORUM_IMPORT_INLINE_BYTES < 5 * 1024**2
    job = imports.import_create(actor=team.admin, project=team.project, name="small.zip", upload=io.BytesIO(data))
    with django_capture_on_commit_callbacks(execute=True):
        returned = imports.import_start(job=job, background=False)
    assert returned.status == "pending"
    assert [r.kwargs for r in default_task_backend.results] == [{"job_id": job.pk}]


def test_a_csv_with_too_many_columns_is_refused_at_its_header(team, settings):
    settings.QUORUM_MAX_CSV_COLUMNS = 50
    header = ",".join(["id", "text", *(f"c{n}" for n in range(4998))])
    job = run(team, "wide.csv", f"{header}\n1,hello{',x' * 4998}\n".encode())
    assert (job.created, job.errors) == (0, [{"row": "line 1", "field": "header", "reason": "the header has 5,000 columns; the limit is 50"}])
    job = run(team, "wide.csv", b"id,text,c1,C1,c2,c2\n1,hello,a,b,c,d\n")
    assert job.errors[0]["reason"] == "repeated columns: c1, c2"
    job = run(team, "ok.csv", f"id,text,{','.join(f'c{n}' for n in range(48))}\n1,hello,{','.join('x' * 48)}\n".encode())
    assert job.created == 1 and len(Item.objects.get(project=team.project).metadata) == 48


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_deeply_nested_row_fails_alone_and_the_good_rows_are_kept(team, fmt):
    """Nesting past Python's recursion limit (100,000 or 5,000 levels), below it (300) and just
    past the limit (33) each fail their row; the five good rows before and after are imported."""
    good = [f"good {n}" for n in range(10)]
    if fmt == "jsonl":
        deep = [f'{{"id": "d{d}", "text": "deep {d}", "metadata": {{"m": {nested(d - 1)}}}}}' for d in (100_000, 300, 33)]
        data = jsonl([*({"id": g, "text": g} for g in good[:5]), *deep, *({"id": g, "text": g} for g in good[5:])])
        field = ["line", "metadata", "metadata"]
    else:
        deep = [f'd{d},deep {d},"{nested(d)}"' for d in (5_000, 300, 33)]  # a CSV cell holds 131,072 characters
        data = "\n".join(["id,text,gold", *(f"{g},{g}," for g in good[:5]), *deep, *(f"{g},{g}," for g in good[5:])]).encode()
        field = ["gold", "gold", "gold"]
    job = run(team, f"deep.{fmt}", data)
    assert (job.status, job.created, job.failed) == ("done", 10, 3)
    first = 6 if fmt == "jsonl" else 7
    what = {"line": "the JSON", "metadata": "metadata", "gold": "gold"}
    assert job.errors == [
        {"row": f"line {first + n}", "field": f, "reason": f"{what[f]} is nested more than 32 levels deep"}
        for n, f in enumerate(field)
    ]
    assert sorted(Item.objects.filter(project=team.project).values_list("text", flat=True)) == good


def test_a_batch_is_written_once_its_rows_hold_enough_bytes(team, monkeypatch):
    """Long rows do not pile up 10,000 to a batch: a batch is written at BATCH_BYTES."""
    monkeypatch.setattr(imports, "BATCH_BYTES", 5_000)
    batches: list[int] = []
    real = imports._insert_items

    def counted(rows):  # type: ignore[no-untyped-def]
        batches.append(len(rows))
        return real(rows)

    monkeypatch.setattr(imports, "_insert_items", counted)
    job = run(team, "long.jsonl", jsonl([{"id": str(n), "text": f"{n} " + "words " * 400} for n in range(10)]))
    assert job.created == 10
    assert batches == [3, 3, 3, 1]


def test_oversized_metadata_fails_its_row_naming_the_field_and_the_good_rows_are_kept(team):
    """The metadata caps of annotation.limits hold at import: a value over 10,000 characters
    (JSONL) and a row with too many fields (CSV) each fail alone, naming the field."""
    big = "x" * 10_001
    job = run(team, "meta.jsonl", jsonl([{"id": "a", "text": "fine a"}, {"id": "b", "text": "big b", "metadata": {"note": big}},
                                        {"id": "c", "text": "fine c"}]))  # fmt: skip
    assert (job.created, job.failed) == (2, 1)
    assert job.errors[0]["row"] == "line 2" and job.errors[0]["field"] == "metadata.note"
    header = "id,text," + ",".join(f"m{n}" for n in range(101))
    row = "w,wide row," + ",".join("v" for _ in range(101))
    job = run(team, "wide.csv", f"{header}\n{row}\nok,an ok row{',' * 101}\n".encode())
    assert (job.created, job.failed) == (1, 1)
    assert job.errors[0]["field"] == "metadata" and "At most 100 fields" in job.errors[0]["reason"]
