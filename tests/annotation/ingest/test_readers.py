"""Reading import files and checking images by content, without the database."""

import dataclasses
import io
import time
import zipfile

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from annotation.ingest import readers as ingest
from tests.conftest import image_bytes, jsonl, zip_bytes

LIMITS = ingest.Limits(
    image_bytes=2_000_000, image_pixels=1_000_000, zip_entries=100, zip_total_bytes=10_000_000,
    line_bytes=4_000_000, csv_columns=50, json_depth=8, manifest_bytes=10_000_000,
)  # fmt: skip


def rows(it):
    out = list(it)
    return [r for r in out if isinstance(r, ingest.Row)], [r for r in out if isinstance(r, ingest.RowError)]


@pytest.mark.parametrize("fmt,ext", [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("TIFF", "tif")])
def test_accepted_formats_get_a_thumbnail(fmt, ext):
    checked = ingest.check_image(image_bytes(fmt, (600, 300)), LIMITS)
    assert (checked.extension, checked.width, checked.height) == (ext, 600, 300)
    thumb = Image.open(io.BytesIO(checked.thumbnail_jpeg))
    assert thumb.format == "JPEG" and max(thumb.size) == 256


def test_truncated_image_is_refused():
    data = image_bytes("JPEG", (400, 400))
    with pytest.raises(ingest.ImageRejected, match="truncated or corrupted"):
        ingest.check_image(data[: len(data) // 2], LIMITS)


@pytest.mark.parametrize("workers", [1, 2])
def test_images_checked_ahead_come_back_in_order_with_their_results(workers):
    good = [image_bytes("PNG", (40 + n, 30)) for n in range(40)]
    source = []
    for n, data in enumerate(good):
        source.append(ingest.Row(where=f"good {n}", image_bytes=data))
        if n % 7 == 3:
            source.append(ingest.Row(where=f"broken {n}", image_bytes=data[: len(data) // 2]))
        if n % 11 == 5:
            source.append(ingest.RowError(f"bad {n}", "image", "no such file"))
            source.append(ingest.Row(where=f"text {n}", text="a text row"))
    out = list(ingest.check_images_ahead(iter(source), LIMITS, workers=workers, window=4))
    assert [row for row, _ in out] == source
    for row, checked in out:
        where = row.where
        if where.startswith("good"):
            assert isinstance(checked, ingest.CheckedImage)
            assert checked.width == 40 + int(where.split()[1])
        elif where.startswith("broken"):
            assert isinstance(checked, ingest.ImageRejected) and "truncated" in checked.reason
        else:
            assert checked is None


def test_images_checked_ahead_stop_cleanly_when_the_reader_stops(monkeypatch):
    checked: list[int] = []
    real = ingest.check_image

    def slow(data, limits):  # type: ignore[no-untyped-def]
        time.sleep(0.05)
        checked.append(1)
        return real(data, limits)

    monkeypatch.setattr(ingest, "check_image", slow)
    pulled: list[int] = []

    def source():  # type: ignore[no-untyped-def]
        for n in range(100):
            pulled.append(n)
            yield ingest.Row(where=str(n), image_bytes=image_bytes("PNG", (30, 30)))

    ahead = ingest.check_images_ahead(source(), LIMITS, workers=2, window=8)
    first = [next(ahead) for _ in range(3)]
    ahead.close()  # as when an import stops on an error: checks not started are dropped
    assert [row.where for row, _ in first] == ["0", "1", "2"]
    assert len(pulled) <= 3 + 8 + 1  # the window, not the whole source
    assert len(checked) < len(pulled)  # and the queued checks were cancelled, not run


def test_rows_are_not_checked_with_no_workers(monkeypatch):
    monkeypatch.setattr(ingest, "check_image", lambda data, limits: pytest.fail("decoded"))
    rows = [ingest.Row(where="a.jpg", image_bytes=b"\xff\xd8 not decoded")]
    assert list(ingest.check_images_ahead(iter(rows), LIMITS, workers=0)) == [(rows[0], None)]


def test_text_file_named_jpg_is_refused_by_content():
    with pytest.raises(ingest.ImageRejected, match="not an image"):
        ingest.check_image(b"hello, I am text pretending to be a photo\n" * 20, LIMITS)


def test_gif_is_not_accepted():
    with pytest.raises(ingest.ImageRejected, match="GIF images are not accepted"):
        ingest.check_image(image_bytes("GIF"), LIMITS)


def test_oversized_file_is_refused_before_decoding():
    with pytest.raises(ingest.ImageRejected, match="the limit is 1.9 MB"):
        ingest.check_image(b"\xff" * 2_100_000, LIMITS)


def test_pixel_bomb_is_refused_from_its_header():
    # A 20000×20000 PNG compresses to a few hundred KB but would expand to 1.2 GB of pixels.
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, "PNG")
    limits = dataclasses.replace(LIMITS, image_bytes=10_000_000)
    with pytest.raises(ingest.ImageRejected, match="megapixels|decompression bomb"):
        ingest.check_image(out.getvalue(), limits)


def test_jsonl_reports_each_bad_line_with_its_number():
    data = jsonl(
        [
            {"id": "a", "text": "fine"},
            "{not json",
            "[1, 2]",
            {"id": "b"},
            {"id": "c", "text": "x", "metadata": "nope"},
            {"id": "d", "text": "also fine", "metadata": {"k": 1}, "gold": "cat"},
        ]
    )
    good, bad = rows(ingest.read_jsonl(io.BytesIO(data), ingest.NoFiles(), LIMITS))
    assert [r.external_id for r in good] == ["a", "d"]
    assert good[1].metadata == {"k": 1} and good[1].gold == "cat"
    assert [(e.where, e.field) for e in bad] == [("line 2", "line"), ("line 3", "line"), ("line 4", "text"), ("line 5", "metadata")]
    assert bad[0].reason.startswith("not valid JSON")
    assert bad[2].reason == "the row has neither 'text' nor 'image'"


def test_jsonl_image_urls_are_never_fetched():
    data = jsonl([{"id": "a", "image": "http://169.254.169.254/latest"}])
    _, bad = rows(ingest.read_jsonl(io.BytesIO(data), ingest.NoFiles(), LIMITS))
    assert "not downloaded from URLs" in bad[0].reason


def test_csv_without_text_or_image_column_is_refused_with_the_columns_found():
    _, bad = rows(ingest.read_csv(io.BytesIO(b"id,caption\n1,hello\n"), ingest.NoFiles(), LIMITS))
    assert [(e.where, e.field) for e in bad] == [("line 1", "header")]
    assert "needs a 'text' or an 'image' column; found: 'id', 'caption'" in bad[0].reason


def test_csv_other_columns_become_metadata_and_short_rows_are_reported():
    data = b"id,text,source,gold\n1,hello,web,cat\n2,short\n3,bye,,[\"cat\"]\n"
    good, bad = rows(ingest.read_csv(io.BytesIO(data), ingest.NoFiles(), LIMITS))
    assert [(r.external_id, r.text, r.metadata, r.gold) for r in good] == [
        ("1", "hello", {"source": "web"}, "cat"),
        ("3", "bye", {}, ["cat"]),
    ]
    assert [(e.where, e.reason) for e in bad] == [("line 3", "has 2 cells; the header has 4 columns")]


def test_zip_entries_that_escape_are_refused_and_never_read(tmp_path):
    path = tmp_path / "evil.zip"
    path.write_bytes(
        zip_bytes({"../evil.jpg": image_bytes(), "/abs.jpg": image_bytes(), "ok/a.jpg": image_bytes(), "notes.txt": b"hi"})
    )
    good, bad = rows(ingest.read_zip(path, LIMITS))
    assert [r.external_id for r in good] == ["ok/a.jpg"]
    assert {(e.where, e.reason.split(";")[0]) for e in bad} == {
        ("../evil.jpg", "entry path escapes the archive folder"),
        ("/abs.jpg", "entry path escapes the archive folder"),
        ("notes.txt", "not an image file name (.txt)"),
    }
    assert not (tmp_path.parent / "evil.jpg").exists()


def test_zip_manifest_rows_point_at_images_inside_it(tmp_path):
    path = tmp_path / "set.zip"
    manifest = jsonl([{"id": "x", "image": "img/x.png", "gold": "cat"}, {"id": "y", "image": "../../etc/passwd"}, {"id": "z", "image": "img/missing.png"}])
    path.write_bytes(zip_bytes({"items.jsonl": manifest, "img/x.png": image_bytes("PNG")}))
    good, bad = rows(ingest.read_zip(path, LIMITS))
    assert [(r.external_id, r.gold, r.image_name) for r in good] == [("x", "cat", "img/x.png")]
    assert [(e.where, e.field) for e in bad] == [("items.jsonl line 2", "image"), ("items.jsonl line 3", "image")]
    assert "outside the archive" in bad[0].reason and "no file 'img/missing.png'" in bad[1].reason


def test_zip_bomb_declared_size_is_refused(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.jpg", b"\0" * 11_000_000)
    _, bad = rows(ingest.read_zip(path, LIMITS))
    assert "the zip expands to" in bad[0].reason


def test_folder_symlink_outside_is_refused(tmp_path):
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(image_bytes())
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(image_bytes())
    (folder / "link.jpg").symlink_to(outside)
    good, bad = rows(ingest.read_folder(folder, LIMITS))
    assert [r.external_id for r in good] == ["a.jpg"]
    assert [(e.where, e.reason) for e in bad] == [("link.jpg", "link points outside the import folder; not read")]


def test_text_lines_skip_blank_lines_and_keep_line_numbers():
    good, bad = rows(ingest.read_text_lines(io.BytesIO(b"first\n\nthird\n\xff\xfe\n"), LIMITS))
    assert [(r.where, r.text) for r in good] == [("line 1", "first"), ("line 3", "third")]
    assert [(e.where, e.reason) for e in bad] == [("line 4", "not valid UTF-8")]


@given(
    st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=12),
    st.integers(min_value=1, max_value=30),
    st.booleans(),
)
def test_bounded_lines_give_each_line_or_none_for_one_over_the_limit(lines, limit, last_break):
    data = b"\n".join(lines) + (b"\n" if last_break and lines else b"")
    expected = [line + b"\n" for line in data.split(b"\n")[:-1]] + ([data.rsplit(b"\n", 1)[-1]] if not data.endswith(b"\n") and data else [])
    assert list(ingest.bounded_lines(io.BytesIO(data), limit)) == [line if len(line) <= limit else None for line in expected]


def test_bounded_lines_read_a_zip_entry_in_pieces():
    data = zip_bytes({"a.txt": b"short\n" + b"x" * 3_000_000 + b"\nafter"})
    with zipfile.ZipFile(io.BytesIO(data)) as zf, zf.open("a.txt") as fh:
        assert list(ingest.bounded_lines(fh, 2_000_000)) == [b"short\n", None, b"after"]


def test_csv_rows_may_span_lines_and_one_over_the_limit_is_read_past_to_its_end():
    """A quoted cell may hold line breaks; a row whose lines pass the limit fails alone, and the
    rest of its open cell is read past, not taken for rows. Old Mac line ends are line ends."""
    data = b'id,text\r1,"two\nlines"\r\n2,plain\n3,"y\n' + b"y,y\n" * 100 + b'"\n4,last\n'
    out = list(ingest.csv_records(io.BytesIO(data), 150))
    assert [(r.line, r.cells) if isinstance(r, ingest.CsvRecord) else (r.line, r.reason) for r in out] == [
        (1, ["id", "text"]),
        (3, ["1", "two\nlines"]),
        (4, ["2", "plain"]),
        (106, "row is longer than 150 bytes, the limit for one line; skipped unread"),
        (107, ["4", "last"]),
    ]
    out = list(ingest.csv_records(io.BytesIO(b'id,text\n1,"' + b"z" * 200_000 + b'\nz,z\n"\n2,ok\n'), 10**6))
    assert [(r.line, r.cells) if isinstance(r, ingest.CsvRecord) else r.reason for r in out] == [
        (1, ["id", "text"]), "malformed CSV: field larger than field limit (131072)", (5, ["2", "ok"]),
    ]  # fmt: skip


def test_csv_too_wide_is_refused_at_its_header_and_names_only_some_columns():
    header = ",".join(["id", "text", *(f"c{n}" for n in range(100_000))])
    good, bad = rows(ingest.read_csv(io.BytesIO(f"{header}\n1,x\n".encode()), ingest.NoFiles(), LIMITS))
    assert not good and [(e.where, e.field, e.reason) for e in bad] == [
        ("line 1", "header", "the header has 100,002 columns; the limit is 50")
    ]
    _, bad = rows(ingest.read_csv(io.BytesIO(",".join(f"c{n}" for n in range(45)).encode()), ingest.NoFiles(), LIMITS))
    assert bad[0].reason.endswith("found: 'c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9', 'c10', 'c11', "
                                  "'c12', 'c13', 'c14', 'c15', 'c16', 'c17', 'c18', 'c19' and 25 more")  # fmt: skip


def test_json_nested_past_the_limit_fails_its_field_at_any_depth():
    limits = dataclasses.replace(LIMITS, json_depth=3)
    data = jsonl([
        {"id": "ok", "text": "t", "metadata": {"a": [{"b": 1}]}},  # 3 levels
        {"id": "deep", "text": "t", "metadata": {"a": [{"b": [1]}]}},  # 4
        {"id": "gold", "text": "t", "gold": [[[["cat"]]]]},
        '{"id": "far", "text": "t", "metadata": ' + "[" * 50_000 + "]" * 50_000 + "}",
    ])  # fmt: skip
    good, bad = rows(ingest.read_jsonl(io.BytesIO(data), ingest.NoFiles(), limits))
    assert [r.external_id for r in good] == ["ok"]
    assert [(e.where, e.field, e.reason) for e in bad] == [
        ("line 2", "metadata", "metadata is nested more than 3 levels deep"),
        ("line 3", "gold", "gold is nested more than 3 levels deep"),
        ("line 4", "line", "the JSON is nested more than 3 levels deep"),
    ]
    assert ingest.unstorable([{"k": ["\x00"]}]) == "contains a NUL character"


def test_images_checked_ahead_hold_at_most_window_bytes(monkeypatch):
    """A small zip can hold large images of zeros: the look-ahead is bounded by their bytes too."""
    pulled: list[int] = []
    big = image_bytes("PNG", (30, 30)) + b"\0" * 1_000_000  # Pillow reads the PNG and ignores the tail

    def source():  # type: ignore[no-untyped-def]
        for n in range(20):
            pulled.append(n)
            yield ingest.Row(where=str(n), image_bytes=big)

    ahead = ingest.check_images_ahead(source(), LIMITS, workers=2, window=16, window_bytes=3_500_000)
    row, checked = next(ahead)
    assert row.where == "0" and isinstance(checked, ingest.CheckedImage)
    assert len(pulled) <= 4  # 3.5 MB of 1 MB images, not the 16 of the window
    assert len(list(ahead)) == 19


def test_source_bytes_of_a_zip_is_what_it_expands_to(tmp_path):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("items.jsonl", b"\n" * 5_000_000)
    assert path.stat().st_size < 50_000
    assert ingest.source_bytes(path, "zip") == 5_000_000
    assert ingest.source_bytes(path, "jsonl") == path.stat().st_size
