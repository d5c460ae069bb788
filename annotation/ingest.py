"""Reading import sources into rows, and checking images by content. No Django here.

Each reader yields ``Row`` (a candidate item) or ``RowError`` (a bad row, named by its line or
file name, with the field and the reason). Nothing is written; the service decides what to keep.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
import os
import posixpath
import zipfile
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from . import curation

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"}
ACCEPTED_FORMATS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp", "TIFF": "tif"}
MANIFEST_EXTENSIONS = {".jsonl", ".ndjson", ".csv"}
MAX_TEXT_CHARS = 1_000_000
MAX_ID_CHARS = 500
FORMATS = ("jsonl", "csv", "text", "zip", "folder", "image")


@dataclass(frozen=True)
class Limits:
    image_bytes: int
    image_pixels: int
    zip_entries: int
    zip_total_bytes: int
    thumbnail_size: int = 256


@dataclass
class Row:
    where: str  # "line 3", "photos/cat.jpg"
    external_id: str = ""
    text: str | None = None
    image_bytes: bytes | None = None
    image_name: str = ""  # where the image came from, for messages
    metadata: dict[str, Any] = field(default_factory=dict)
    gold: Any = None


@dataclass(frozen=True)
class RowError:
    where: str
    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"row": self.where, "field": self.field, "reason": self.reason}


@dataclass(frozen=True)
class CheckedImage:
    sha256: str
    extension: str
    width: int
    height: int
    thumbnail_jpeg: bytes
    measures: curation.ImageMeasures


class ImageRejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def check_image(data: bytes, limits: Limits) -> CheckedImage:
    """Check an image by its content and make its thumbnail, or raise ``ImageRejected``.

    Refuses files over the byte limit, anything Pillow cannot identify as JPEG, PNG, WebP or
    TIFF, images over the pixel limit (checked from the header, before decoding, so
    decompression bombs are never expanded), and truncated or corrupted files.
    """
    if len(data) > limits.image_bytes:
        raise ImageRejected(f"file is {_mb(len(data))}; the limit is {_mb(limits.image_bytes)}")
    if not data:
        raise ImageRejected("file is empty")
    # The pixel limit is checked from the header below, before decoding. (No warnings filter
    # for DecompressionBombWarning: catch_warnings is process-wide, and checks run on threads.)
    try:
        img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageRejected(
            "not an image: the content is not JPEG, PNG, WebP or TIFF"
        ) from None
    except Image.DecompressionBombError:
        raise ImageRejected("image has too many pixels (decompression bomb refused)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"unreadable image: {exc}") from None
    with img:
        if img.format not in ACCEPTED_FORMATS:
            raise ImageRejected(
                f"{img.format} images are not accepted; use JPEG, PNG, WebP or TIFF"
            )
        width, height = img.size
        if width * height > limits.image_pixels:
            raise ImageRejected(
                f"image is {width}×{height} = {width * height / 1e6:.1f} megapixels; "
                f"the limit is {limits.image_pixels / 1e6:.1f}"
            )
        try:
            if img.format in ("JPEG", "MPO"):
                # Decode a large JPEG at 1/2, 1/4 or 1/8 scale (still at least MEASURE_SIDE a
                # side): a fraction of the time, and every byte is still read, so truncation
                # is still found.
                img.draft(img.mode if img.mode in ("RGB", "L") else None, (curation.MEASURE_SIDE,) * 2)
            img.load()
            # An upright copy at most MEASURE_SIDE pixels wide: the measures and the
            # thumbnail come from it, so a large photo is scaled down once.
            work = ImageOps.exif_transpose(img)  # always a new image
            if img.getexif().get(ExifTags.Base.Orientation) in (5, 6, 7, 8):  # as exif_transpose reads it
                width, height = height, width  # the size as the picture is seen, upright
            if work.mode not in ("RGB", "L"):
                work = work.convert("RGB")
            if max(work.size) > curation.MEASURE_SIDE:
                work.thumbnail((curation.MEASURE_SIDE, curation.MEASURE_SIDE))
            measures = curation.measure_image(img, oriented=work)
            # reducing_gap 1: box-average by a whole factor, then resample the rest; for a
            # thumbnail that is as good to the eye and a fifth of the time.
            work.thumbnail((limits.thumbnail_size, limits.thumbnail_size), reducing_gap=1.0)
            out = io.BytesIO()
            work.save(out, "JPEG", quality=80)
        except Image.DecompressionBombError:
            raise ImageRejected("image has too many pixels (decompression bomb refused)") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageRejected(f"image is truncated or corrupted ({exc})") from None
        return CheckedImage(
            sha256=hashlib.sha256(data).hexdigest(),
            extension=ACCEPTED_FORMATS[img.format],
            width=width,
            height=height,
            thumbnail_jpeg=out.getvalue(),
            measures=measures,
        )


def check_images_ahead(
    rows: Iterable[Row | RowError], limits: Limits, *, workers: int, window: int = 32
) -> Iterator[tuple[Row | RowError, CheckedImage | ImageRejected | None]]:
    """Each row with its image checked (``CheckedImage``, or the ``ImageRejected`` it raised;
    None for a row without an image), in the order of ``rows``. With ``workers`` 0 nothing is
    checked (a text project refuses image rows unread).

    With ``workers`` > 1 the checks run on that many threads, up to ``window`` rows ahead of
    the consumer, while it reads the source and writes to the database: decoding, resizing and
    hashing spend their time in Pillow, numpy and compiled code, which release the GIL.
    Memory stays bounded by ``window`` images.
    """

    def check(data: bytes) -> CheckedImage | ImageRejected:
        try:
            return check_image(data, limits)
        except ImageRejected as exc:
            return exc

    if workers <= 0:
        for row in rows:
            yield row, None
        return
    if workers == 1:
        for row in rows:
            has_image = isinstance(row, Row) and row.image_bytes is not None
            yield row, check(row.image_bytes) if has_image else None  # type: ignore[union-attr,arg-type]
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check-image") as pool:
        pending: deque[tuple[Row | RowError, Future[CheckedImage | ImageRejected] | None]] = deque()
        try:
            for row in rows:
                has_image = isinstance(row, Row) and row.image_bytes is not None
                pending.append((row, pool.submit(check, row.image_bytes) if has_image else None))  # type: ignore[union-attr,arg-type]
                while len(pending) > window or (pending and (pending[0][1] is None or pending[0][1].done())):
                    done, future = pending.popleft()
                    yield done, None if future is None else future.result()
            while pending:
                done, future = pending.popleft()
                yield done, None if future is None else future.result()
        finally:
            for _, future in pending:  # the consumer stopped early: drop what it will not read
                if future is not None:
                    future.cancel()


def text_hash(text: str) -> str:
    """The content hash of a text: of its normalised form, so texts that differ only in case,
    whitespace or Unicode composition are exact duplicates."""
    return hashlib.sha256(curation.normalize_text(text).encode("utf-8")).hexdigest()


# --- format detection -------------------------------------------------------------------------


def detect_format(name: str, *, is_dir: bool = False) -> str | None:
    if is_dir:
        return "folder"
    ext = os.path.splitext(name.lower())[1]
    if ext in (".jsonl", ".ndjson"):
        return "jsonl"
    if ext == ".csv":
        return "csv"
    if ext == ".txt":
        return "text"
    if ext == ".zip":
        return "zip"
    if ext in IMAGE_EXTENSIONS:
        return "image"
    return None


# --- a source of image files: a folder, a zip, or nothing ----------------------------------------


class FileSource:
    """Files next to a manifest that rows can point at by relative path."""

    def read(self, name: str, limit: int) -> bytes:
        raise FileNotFoundError(name)

    def size(self, name: str) -> int:
        raise FileNotFoundError(name)

    def open(self, name: str) -> Any:
        raise FileNotFoundError(name)

    def describe(self) -> str:
        return "the upload"


class NoFiles(FileSource):
    def read(self, name: str, limit: int) -> bytes:
        raise FileNotFoundError(
            "image paths can only be resolved inside a zip or folder import; "
            "upload the JSONL/CSV together with its images in one zip"
        )


def safe_relative_name(name: str) -> str | None:
    """The normalized relative path, or None if it is absolute or climbs out of its folder."""
    name = name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    norm = posixpath.normpath(name)
    if norm == ".." or norm.startswith("../") or norm.startswith("/"):
        return None
    if any(part == ".." for part in name.split("/")):
        return None
    return norm


class FolderFiles(FileSource):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, name: str) -> Path:
        rel = safe_relative_name(name)
        path = (self.root / rel).resolve() if rel is not None else None
        if path is None or not path.is_relative_to(self.root):
            raise PermissionError(f"{name!r} points outside the import folder")
        if not path.is_file():
            raise FileNotFoundError(f"no file {name!r} in the import folder")
        return path

    def read(self, name: str, limit: int) -> bytes:
        with self._path(name).open("rb") as fh:
            return fh.read(limit + 1)

    def size(self, name: str) -> int:
        return self._path(name).stat().st_size

    def open(self, name: str) -> Any:
        return self._path(name).open("rb")


class ZipFiles(FileSource):
    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.names = {
            rel: info for info in zf.infolist() if (rel := safe_relative_name(info.filename))
        }

    def _info(self, name: str) -> zipfile.ZipInfo:
        rel = safe_relative_name(name)
        if rel is None:
            raise PermissionError(f"{name!r} points outside the archive")
        info = self.names.get(rel)
        if info is None or info.is_dir():
            raise FileNotFoundError(f"no file {name!r} in the zip")
        return info

    def read(self, name: str, limit: int) -> bytes:
        # The declared size can lie (zip bombs): never read more than the limit allows.
        with self.zf.open(self._info(name)) as fh:
            return fh.read(limit + 1)

    def size(self, name: str) -> int:
        return self._info(name).file_size

    def open(self, name: str) -> Any:
        return self.zf.open(self._info(name))


# --- row readers ------------------------------------------------------------------------------


def unstorable(value: Any) -> str | None:
    """Why a string (or any string inside a JSON value) cannot be stored, or None.

    Databases refuse NUL characters in text (PostgreSQL) and lone UTF-16 surrogates cannot be
    encoded at all; both come from broken exports and must fail one row, not the import.
    """
    if isinstance(value, str):
        if "\x00" in value:
            return "contains a NUL character"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "contains characters that are not valid Unicode (a lone surrogate)"
        return None
    if isinstance(value, dict):
        return next((r for k, v in value.items() if (r := unstorable(k) or unstorable(v))), None)
    if isinstance(value, list):
        return next((r for v in value if (r := unstorable(v))), None)
    return None


def _clean_id(value: Any, where: str) -> str | RowError:
    if value is None:
        return ""
    if isinstance(value, (dict, list, bool)):
        return RowError(where, "id", "id must be a string or a number")
    text = str(value).strip()
    if len(text) > MAX_ID_CHARS:
        return RowError(where, "id", f"id is longer than {MAX_ID_CHARS} characters")
    if reason := unstorable(text):
        return RowError(where, "id", f"id {reason}")
    return text


def _image_field(value: str, where: str, files: FileSource, limit: int) -> bytes | RowError:
    if value.startswith("data:"):
        try:
            header, payload = value.split(",", 1)
            if ";base64" not in header:
                return RowError(where, "image", "a data: URI must be base64-encoded")
            if len(payload) > limit * 4 // 3 + 8:
                return RowError(where, "image", f"embedded image is over {_mb(limit)}")
            return base64.b64decode(payload, validate=True)
        except (ValueError, binascii.Error):
            return RowError(where, "image", "the data: URI is not valid base64")
    if "://" in value:
        return RowError(
            where, "image", "images are not downloaded from URLs; put the files in the zip"
        )
    try:
        return files.read(value, limit)
    except (FileNotFoundError, PermissionError) as exc:
        return RowError(where, "image", str(exc))


def _row_from_record(
    record: dict[str, Any], where: str, files: FileSource, limits: Limits
) -> Row | RowError:
    ext_id = _clean_id(record.get("id"), where)
    if isinstance(ext_id, RowError):
        return ext_id
    text = record.get("text")
    image = record.get("image")
    if text not in (None, "") and image not in (None, ""):
        return RowError(where, "text", "a row has either 'text' or 'image', not both")
    metadata = record.get("metadata", {})
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        return RowError(where, "metadata", "metadata must be an object")
    for name, value in (("metadata", metadata), ("gold", record.get("gold"))):
        if reason := unstorable(value):
            return RowError(where, name, f"{name} {reason}")
    row = Row(where=where, external_id=ext_id, metadata=metadata, gold=record.get("gold"))
    if text not in (None, ""):
        if not isinstance(text, str):
            return RowError(where, "text", "text must be a string")
        if len(text) > MAX_TEXT_CHARS:
            return RowError(where, "text", f"text is longer than {MAX_TEXT_CHARS:,} characters")
        if reason := unstorable(text):
            return RowError(where, "text", f"text {reason}")
        row.text = text
        return row
    if image not in (None, ""):
        if not isinstance(image, str):
            return RowError(where, "image", "image must be a path inside the zip or a data: URI")
        data = _image_field(image, where, files, limits.image_bytes)
        if isinstance(data, RowError):
            return data
        row.image_bytes = data
        row.image_name = image if not image.startswith("data:") else "embedded image"
        return row
    return RowError(where, "text", "the row has neither 'text' nor 'image'")


def read_jsonl(
    stream: io.BufferedIOBase | io.RawIOBase | Any, files: FileSource, limits: Limits, prefix: str = ""
) -> Iterator[Row | RowError]:
    for lineno, raw in enumerate(stream, start=1):
        where = f"{prefix}line {lineno}"
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError:
            yield RowError(where, "line", "not valid UTF-8")
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield RowError(where, "line", f"not valid JSON: {exc.msg} (column {exc.colno})")
            continue
        if not isinstance(record, dict):
            yield RowError(where, "line", "each line must be a JSON object")
            continue
        yield _row_from_record(record, where, files, limits)


CSV_RESERVED = {"id", "text", "image", "gold"}


def read_csv(
    stream: Any, files: FileSource, limits: Limits, prefix: str = ""
) -> Iterator[Row | RowError]:
    """CSV with a header: ``id``, ``text`` or ``image``, optional ``gold``; other columns are
    metadata. A gold cell that holds a JSON list is a multi-choice answer."""
    text_stream = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        reader = csv.reader(text_stream)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            yield RowError(f"{prefix}line 1", "header", "the CSV file is empty")
            return
        except (UnicodeDecodeError, csv.Error) as exc:
            yield RowError(f"{prefix}line 1", "header", f"unreadable CSV header: {exc}")
            return
        lowered = [h.lower() for h in header]
        if "text" not in lowered and "image" not in lowered:
            yield RowError(
                f"{prefix}line 1",
                "header",
                "the CSV header needs a 'text' or an 'image' column; found: "
                + (", ".join(repr(h) for h in header) or "nothing"),
            )
            return
        dupes = {h for h in lowered if lowered.count(h) > 1}
        if dupes:
            yield RowError(f"{prefix}line 1", "header", f"repeated columns: {', '.join(sorted(dupes))}")
            return
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except UnicodeDecodeError:
                yield RowError(f"{prefix}line {reader.line_num}", "line", "not valid UTF-8")
                return
            except csv.Error as exc:
                yield RowError(f"{prefix}line {reader.line_num}", "line", f"malformed CSV: {exc}")
                continue
            where = f"{prefix}line {reader.line_num}"
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                yield RowError(
                    where, "line", f"has {len(cells)} cells; the header has {len(header)} columns"
                )
                continue
            record: dict[str, Any] = {}
            metadata: dict[str, Any] = {}
            for name, low, value in zip(header, lowered, cells, strict=True):
                if low in CSV_RESERVED:
                    record[low] = value if value != "" else None
                elif value != "":
                    metadata[name] = value
            gold = record.get("gold")
            if isinstance(gold, str) and gold.startswith("["):
                try:
                    record["gold"] = json.loads(gold)
                except json.JSONDecodeError:
                    yield RowError(where, "gold", "gold starts with '[' but is not a JSON list")
                    continue
            record["metadata"] = metadata
            yield _row_from_record(record, where, files, limits)
    finally:
        text_stream.detach()


def read_text_lines(stream: Any, prefix: str = "") -> Iterator[Row | RowError]:
    for lineno, raw in enumerate(stream, start=1):
        where = f"{prefix}line {lineno}"
        try:
            line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield RowError(where, "text", "not valid UTF-8")
            continue
        if not line.strip():
            continue
        if len(line) > MAX_TEXT_CHARS:
            yield RowError(where, "text", f"line is longer than {MAX_TEXT_CHARS:,} characters")
            continue
        if reason := unstorable(line):
            yield RowError(where, "text", f"line {reason}")
            continue
        yield Row(where=where, text=line)


def _is_ignorable(rel: str) -> bool:
    parts = rel.split("/")
    return parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts)


def _image_row(rel: str, data: bytes) -> Row:
    return Row(where=rel, external_id=rel, image_bytes=data, image_name=rel)


def _read_entries(names: list[str], files: FileSource, limits: Limits) -> Iterator[Row | RowError]:
    """The rows of a zip or folder: its JSONL/CSV manifests if it has any, else its images."""
    manifests = [n for n in names if os.path.splitext(n.lower())[1] in MANIFEST_EXTENSIONS]
    if manifests:
        for name in manifests:
            reader = read_csv if name.lower().endswith(".csv") else read_jsonl
            try:
                with files.open(name) as fh:
                    yield from reader(fh, files, limits, prefix=f"{name} ")
            except Exception as exc:  # a corrupted manifest: report it, go on with the next
                yield RowError(name, "file", f"could not be read to the end: {exc}")
        return
    for name in names:
        ext = os.path.splitext(name.lower())[1]
        if ext not in IMAGE_EXTENSIONS:
            yield RowError(name, "file", f"not an image file name ({ext or 'no extension'}); skipped")
            continue
        size = files.size(name)
        if size > limits.image_bytes:
            yield RowError(name, "image", f"file is {_mb(size)}; the limit is {_mb(limits.image_bytes)}")
            continue
        try:
            data = files.read(name, limits.image_bytes)
        except Exception as exc:  # zlib.error, BadZipFile, CRC errors…: this entry only
            yield RowError(name, "file", f"could not be read: {exc}")
            continue
        yield _image_row(name, data)


def read_zip(path: Path, limits: Limits) -> Iterator[Row | RowError]:
    """A zip of images, or of one or more JSONL/CSV manifests that point at images inside it.

    Entries are read into memory, never extracted, and names that are absolute or climb out
    with ``..`` are refused. Declared and actual sizes are both capped (zip bombs).
    """
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        yield RowError(path.name, "file", f"not a readable zip archive: {exc}")
        return
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.zip_entries:
            yield RowError(
                path.name, "file", f"the zip has {len(infos):,} entries; the limit is {limits.zip_entries:,}"
            )
            return
        declared = sum(i.file_size for i in infos)
        if declared > limits.zip_total_bytes:
            yield RowError(
                path.name, "file",
                f"the zip expands to {_mb(declared)}; the limit is {_mb(limits.zip_total_bytes)}",
            )
            return
        files = ZipFiles(zf)
        entries: list[str] = []
        for info in infos:
            if info.is_dir():
                continue
            rel = safe_relative_name(info.filename)
            if rel is None:
                yield RowError(info.filename, "file", "entry path escapes the archive folder; not read")
                continue
            if _is_ignorable(rel):
                continue
            entries.append(rel)
        yield from _read_entries(entries, files, limits)


def read_folder(root: Path, limits: Limits) -> Iterator[Row | RowError]:
    """A folder of images, or of JSONL/CSV manifests pointing at images in it. Symlinks that
    lead outside the folder are refused."""
    root = root.resolve()
    files = FolderFiles(root)
    paths = sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink())
    entries = []
    for p in paths:
        rel = p.relative_to(root).as_posix()
        if _is_ignorable(rel):
            continue
        if not p.resolve().is_relative_to(root):
            yield RowError(rel, "file", "link points outside the import folder; not read")
            continue
        entries.append(rel)
    yield from _read_entries(entries, files, limits)


def read_source(path: Path, fmt: str, limits: Limits, display_name: str) -> Iterator[Row | RowError]:
    """Rows from a stored upload or a local path, in the given format."""
    if fmt == "folder":
        yield from read_folder(path, limits)
    elif fmt == "zip":
        yield from read_zip(path, limits)
    elif fmt == "image":
        size = path.stat().st_size
        if size > limits.image_bytes:
            yield RowError(display_name, "image", f"file is {_mb(size)}; the limit is {_mb(limits.image_bytes)}")
            return
        yield _image_row(display_name, path.read_bytes())
    else:
        with path.open("rb") as fh:
            if fmt == "jsonl":
                yield from read_jsonl(fh, NoFiles(), limits)
            elif fmt == "csv":
                yield from read_csv(fh, NoFiles(), limits)
            elif fmt == "text":
                yield from read_text_lines(fh)
            else:
                raise ValueError(f"unknown import format {fmt!r}")
