"""Reading import sources into rows, and checking images by content. No Django here.

Each reader yields ``Row`` (a candidate item) or ``RowError`` (a bad row, named by its line or
file name, with the field and the reason). Nothing is written; the service decides what to keep.

Uploads are read as if written to hurt: a line is read in pieces and one over the limit is read
past, never held (``bounded_lines``); a CSV header has at most ``Limits.csv_columns`` columns; JSON
nested deeper than ``Limits.json_depth`` fails its row; a JSONL, CSV or text file is at most
``Limits.manifest_bytes`` uncompressed. Each of these fails one row (or one file), never the import.

Why over 400 lines: Readers, bounded line and CSV reading, file sources and image checks share the row and limit types; splitting them is planned when a fourth format arrives.
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
import re
import zipfile
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from annotation.curation import measures as curation
from annotation.limits import metadata_errors

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
    line_bytes: int  # one line of JSONL or text, one CSV row (a quoted cell may span lines), its break included
    csv_columns: int
    json_depth: int  # levels of objects and lists in a row's metadata or gold
    manifest_bytes: int  # one JSONL, CSV or text file, uncompressed
    thumbnail_size: int = 256


@dataclass
class Row:
    where: str  # "line 3", "photos/cat.jpg"
    size: int = 0  # bytes of the line or CSV row it was read from
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


def _size(n: int) -> str:
    """A byte count for people: 8.0 MB, 9.8 KB, 100 bytes (a limit lowered for a test still reads right)."""
    if n >= 1024**2:
        return f"{n / 1024**2:.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n:,} bytes"


def _sizes(size: int, limit: int) -> tuple[str, str]:
    """A size over a limit and the limit, for people; in bytes when rounding would show them equal."""
    shown = _size(size), _size(limit)
    return shown if shown[0] != shown[1] else (f"{size:,} bytes", f"{limit:,} bytes")


def _file_too_large(size: int, limit: int) -> str:
    return "file is {}; the limit is {}".format(*_sizes(size, limit))


def check_image(data: bytes, limits: Limits) -> CheckedImage:
    """Check an image by its content and make its thumbnail, or raise ``ImageRejected``.

    Refuses files over the byte limit, anything Pillow cannot identify as JPEG, PNG, WebP or
    TIFF, images over the pixel limit (checked from the header, before decoding, so
    decompression bombs are never expanded), and truncated or corrupted files.
    """
    if len(data) > limits.image_bytes:
        raise ImageRejected(_file_too_large(len(data), limits.image_bytes))
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
    rows: Iterable[Row | RowError], limits: Limits, *, workers: int, window: int = 32, window_bytes: int = 128 * 1024**2
) -> Iterator[tuple[Row | RowError, CheckedImage | ImageRejected | None]]:
    """Each row with its image checked (``CheckedImage``, or the ``ImageRejected`` it raised;
    None for a row without an image), in the order of ``rows``. With ``workers`` 0 nothing is
    checked (a text project refuses image rows unread).

    With ``workers`` > 1 the checks run on that many threads, up to ``window`` rows ahead of
    the consumer, while it reads the source and writes to the database: decoding, resizing and
    hashing spend their time in Pillow, numpy and compiled code, which release the GIL.
    Memory stays bounded by ``window`` images and ``window_bytes`` of them (a small zip can hold
    large images of zeros: 32 of 25 MB would be 800 MB).
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
        held = 0  # image bytes in ``pending``
        try:
            for row in rows:
                has_image = isinstance(row, Row) and row.image_bytes is not None
                pending.append((row, pool.submit(check, row.image_bytes) if has_image else None))  # type: ignore[union-attr,arg-type]
                held += len(row.image_bytes) if has_image else 0  # type: ignore[union-attr,arg-type]
                while (
                    len(pending) > window or held > window_bytes
                    or (pending and (pending[0][1] is None or pending[0][1].done()))
                ):  # fmt: skip
                    done, future = pending.popleft()
                    held -= len(done.image_bytes or b"") if isinstance(done, Row) else 0
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


# --- reading lines and CSV rows within limits -------------------------------------------------

READ_PIECE = 1024 * 1024  # the most read at once while a line is gathered or read past


def bounded_lines(
    stream: Any, limit: int, dropped: Callable[[bytes], object] | None = None
) -> Iterator[bytes | None]:
    """The lines of a binary stream, each with its line break; None for a line longer than
    ``limit`` bytes (its break included).

    A line is gathered in pieces, and one that passes the limit is dropped at once and the rest
    of it read past piece by piece: a 1 GB line costs ``limit`` bytes of memory, not the gigabytes
    that reading it whole, decoding and parsing it would take (a zip of 1 MB can hold such a line).
    ``dropped``, if given, sees each piece of such a line as it goes (the CSV reader counts quotes).
    """
    if not isinstance(stream, (io.BufferedReader, io.BytesIO)):
        # A zip entry's own readline(n) goes 512 bytes at a time; a buffer in front reads in C.
        stream = io.BufferedReader(stream, buffer_size=64 * 1024)
    while True:
        parts: list[bytes] = []
        size = 0
        while size <= limit and (piece := stream.readline(min(READ_PIECE, limit + 1 - size))):
            parts.append(piece)
            size += len(piece)
            if piece.endswith(b"\n"):
                break
        if not parts:
            return
        if size <= limit:
            yield parts[0] if len(parts) == 1 else b"".join(parts)
            continue
        piece = parts[-1]
        for part in parts if dropped else ():
            dropped(part)
        parts.clear()
        while piece and not piece.endswith(b"\n"):
            piece = stream.readline(READ_PIECE)
            if dropped:
                dropped(piece)
        yield None


def _line_too_long(limit: int) -> str:
    return f"longer than {_size(limit)}, the limit for one line; skipped unread"


class CsvRecord(NamedTuple):
    line: int  # the record's last line (a quoted cell may span lines)
    cells: list[str]
    size: int  # bytes


@dataclass(frozen=True)
class CsvProblem:
    line: int
    reason: str
    stop: bool = False  # nothing after this line can be read (it is not UTF-8)


class _RowTooLong(Exception):
    pass


# A carriage return not followed by a line feed also ends a line (old Mac exports), as with newline="".
_BARE_CR = re.compile(r"(?<=\r)(?!\n)")


class _CsvLines:
    """Decoded lines for ``csv.reader``, from ``bounded_lines``. It raises ``_RowTooLong`` for a
    line over the limit, and for a row whose lines together pass it: a quoted cell may hold line
    breaks, and the reader would otherwise gather any number of lines into one row."""

    def __init__(self, stream: Any, limit: int) -> None:
        self.lines = bounded_lines(stream, limit, dropped=self._count_quotes)
        self.limit = limit
        self.line = 0  # lines handed out, and the one refused
        self.row_bytes = 0
        self.quotes = 0  # quote characters in the row so far: odd while inside a quoted cell
        self.pending: list[str] = []  # the rest of a line cut by old Mac line ends

    def _count_quotes(self, piece: bytes) -> None:
        self.quotes += piece.count(b'"')

    def start_row(self) -> None:
        self.row_bytes = self.quotes = 0

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        if self.pending:
            self.line += 1
            return self.pending.pop()
        raw = next(self.lines)
        self.line += 1
        if raw is None:
            raise _RowTooLong
        self._count_quotes(raw)
        self.row_bytes += len(raw)
        if self.row_bytes > self.limit:
            raise _RowTooLong
        text = raw.decode("utf-8-sig" if self.line == 1 else "utf-8")
        if "\r" not in text:
            return text
        self.pending = [p for p in _BARE_CR.split(text) if p][::-1]
        return self.pending.pop()

    def read_past_open_cell(self) -> None:
        """After a row that failed inside a quoted cell, read past the rest of that cell's lines,
        so that they are not taken for rows of their own. (Counting quotes is exact for CSV whose
        quotes open cells or are doubled inside them, as every CSV writer makes them.)"""
        if self.quotes % 2:
            self.pending.clear()
        while self.quotes % 2:
            raw = next(self.lines, b"")  # never b"" before the end: a line has at least its break
            if raw == b"":
                return
            self.line += 1
            if raw is not None:
                self._count_quotes(raw)


def csv_records(stream: Any, limit: int) -> Iterator[CsvRecord | CsvProblem]:
    """The rows of a CSV file (UTF-8, with or without a byte order mark), each as a ``CsvRecord``,
    or a ``CsvProblem`` for a row that cannot be read: malformed, longer than ``limit`` bytes (read
    past, never held), or not UTF-8 (then reading stops). Blank lines come as rows of no cells."""
    lines = _CsvLines(stream, limit)
    reader = csv.reader(lines)
    while True:
        lines.start_row()
        try:
            cells = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            yield CsvProblem(lines.line, "not valid UTF-8", stop=True)
            return
        except (_RowTooLong, csv.Error) as exc:
            lines.read_past_open_cell()
            reason = "row is " + _line_too_long(limit) if isinstance(exc, _RowTooLong) else f"malformed CSV: {exc}"
            yield CsvProblem(lines.line, reason)
            continue
        yield CsvRecord(lines.line, cells, lines.row_bytes)


# --- row readers ------------------------------------------------------------------------------


def unstorable(value: Any, max_depth: int | None = None) -> str | None:
    """Why a string (or any string inside a JSON value) cannot be stored, or None.

    Databases refuse NUL characters in text (PostgreSQL) and lone UTF-16 surrogates cannot be
    encoded at all; both come from broken exports and must fail one row, not the import. Objects
    and lists nested more than ``max_depth`` levels are refused too. The walk keeps its own stack:
    no nesting, however deep, can raise ``RecursionError`` here.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]  # a value and how many objects or lists hold it
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return "contains a NUL character"
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "contains characters that are not valid Unicode (a lone surrogate)"
        elif isinstance(value, (dict, list)):
            if max_depth is not None and depth >= max_depth:
                return f"is nested more than {max_depth} levels deep"
            if isinstance(value, dict):
                stack.extend((key, depth) for key in value)
                value = value.values()
            stack.extend((item, depth + 1) for item in value)
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
                return RowError(where, "image", f"embedded image is over {_size(limit)}")
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
    record: dict[str, Any], where: str, files: FileSource, limits: Limits, size: int
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
        if reason := unstorable(value, limits.json_depth):
            return RowError(where, name, f"{name} {reason}")
    if too_big := metadata_errors(metadata):
        return RowError(where, too_big[0]["field"], too_big[0]["message"])
    row = Row(where=where, size=size, external_id=ext_id, metadata=metadata, gold=record.get("gold"))
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


def _too_deep(limits: Limits) -> str:
    # json.loads recurses once a level and stops near Python's recursion limit (~1,000 levels).
    return f"is nested more than {limits.json_depth} levels deep"


def read_jsonl(
    stream: io.BufferedIOBase | io.RawIOBase | Any, files: FileSource, limits: Limits, prefix: str = ""
) -> Iterator[Row | RowError]:
    for lineno, raw in enumerate(bounded_lines(stream, limits.line_bytes), start=1):
        where = f"{prefix}line {lineno}"
        if raw is None:
            yield RowError(where, "line", "line is " + _line_too_long(limits.line_bytes))
            continue
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError:
            yield RowError(where, "line", "not valid UTF-8")
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield RowError(where, "line", f"not valid JSON: {exc.msg} (column {exc.colno})")
            continue
        except RecursionError:
            yield RowError(where, "line", "the JSON " + _too_deep(limits))
            continue
        if not isinstance(record, dict):
            yield RowError(where, "line", "each line must be a JSON object")
            continue
        yield _row_from_record(record, where, files, limits, len(raw))


CSV_RESERVED = {"id", "text", "image", "gold"}


def _csv_header_problem(header: list[str], limits: Limits) -> str | None:
    """Why a CSV header cannot be used, or None. Linear in its width: a header of a million
    columns is refused in the time it takes to read it."""
    if len(header) > limits.csv_columns:
        return f"the header has {len(header):,} columns; the limit is {limits.csv_columns:,}"
    lowered = [h.lower() for h in header]
    if "text" not in lowered and "image" not in lowered:
        shown = ", ".join(repr(h) for h in header[:20]) + (f" and {len(header) - 20:,} more" if len(header) > 20 else "")
        return f"the CSV header needs a 'text' or an 'image' column; found: {shown or 'nothing'}"
    if dupes := sorted(h for h, n in Counter(lowered).items() if n > 1):
        return f"repeated columns: {', '.join(dupes)}"
    return None


def read_csv(
    stream: Any, files: FileSource, limits: Limits, prefix: str = ""
) -> Iterator[Row | RowError]:
    """CSV with a header: ``id``, ``text`` or ``image``, optional ``gold``; other columns are
    metadata. A gold cell that holds a JSON list is a multi-choice answer."""
    records = csv_records(stream, limits.line_bytes)
    first = next(records, None)
    if first is None:
        yield RowError(f"{prefix}line 1", "header", "the CSV file is empty")
        return
    if isinstance(first, CsvProblem):
        yield RowError(f"{prefix}line {first.line}", "header", f"unreadable CSV header: {first.reason}")
        return
    header = [h.strip() for h in first.cells]
    if problem := _csv_header_problem(header, limits):
        yield RowError(f"{prefix}line {first.line}", "header", problem)
        return
    lowered = [h.lower() for h in header]
    for record in records:
        if isinstance(record, CsvProblem):
            yield RowError(f"{prefix}line {record.line}", "line", record.reason)
            if record.stop:
                return
            continue
        where = f"{prefix}line {record.line}"
        cells = record.cells
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            yield RowError(
                where, "line", f"has {len(cells):,} cells; the header has {len(header):,} columns"
            )
            continue
        row: dict[str, Any] = {}
        metadata: dict[str, Any] = {}
        for name, low, value in zip(header, lowered, cells, strict=True):
            if low in CSV_RESERVED:
                row[low] = value if value != "" else None
            elif value != "":
                metadata[name] = value
        gold = row.get("gold")
        if isinstance(gold, str) and gold.startswith("["):
            try:
                row["gold"] = json.loads(gold)
            except json.JSONDecodeError:
                yield RowError(where, "gold", "gold starts with '[' but is not a JSON list")
                continue
            except RecursionError:
                yield RowError(where, "gold", "gold " + _too_deep(limits))
                continue
        row["metadata"] = metadata
        yield _row_from_record(row, where, files, limits, record.size)


def read_text_lines(stream: Any, limits: Limits, prefix: str = "") -> Iterator[Row | RowError]:
    for lineno, raw in enumerate(bounded_lines(stream, limits.line_bytes), start=1):
        where = f"{prefix}line {lineno}"
        if raw is None:
            yield RowError(where, "text", "line is " + _line_too_long(limits.line_bytes))
            continue
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
        yield Row(where=where, size=len(raw), text=line)


def _is_ignorable(rel: str) -> bool:
    parts = rel.split("/")
    return parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts)


def _image_row(rel: str, data: bytes) -> Row:
    return Row(where=rel, external_id=rel, image_bytes=data, image_name=rel)


def _manifest_too_large(name: str, size: int, limits: Limits) -> RowError | None:
    """A JSONL, CSV or text file over the size limit is refused before a line of it is read.
    (A zip entry's declared size is what ``zipfile`` will ever give out of it.)"""
    if size <= limits.manifest_bytes:
        return None
    return RowError(
        name, "file", "the file is {} uncompressed; the limit for a JSONL, CSV or text file is {}".format(
            *_sizes(size, limits.manifest_bytes)
        ),
    )  # fmt: skip


def _read_entries(names: list[str], files: FileSource, limits: Limits) -> Iterator[Row | RowError]:
    """The rows of a zip or folder: its JSONL/CSV manifests if it has any, else its images."""
    manifests = [n for n in names if os.path.splitext(n.lower())[1] in MANIFEST_EXTENSIONS]
    if manifests:
        for name in manifests:
            reader = read_csv if name.lower().endswith(".csv") else read_jsonl
            if refused := _manifest_too_large(name, files.size(name), limits):
                yield refused
                continue
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
            yield RowError(name, "image", _file_too_large(size, limits.image_bytes))
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
                "the zip expands to {}; the limit is {}".format(*_sizes(declared, limits.zip_total_bytes)),
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
            yield RowError(display_name, "image", _file_too_large(size, limits.image_bytes))
            return
        yield _image_row(display_name, path.read_bytes())
    else:
        if refused := _manifest_too_large(display_name, path.stat().st_size, limits):
            yield refused
            return
        with path.open("rb") as fh:
            if fmt == "jsonl":
                yield from read_jsonl(fh, NoFiles(), limits)
            elif fmt == "csv":
                yield from read_csv(fh, NoFiles(), limits)
            elif fmt == "text":
                yield from read_text_lines(fh, limits)
            else:
                raise ValueError(f"unknown import format {fmt!r}")


def source_bytes(path: Path, fmt: str) -> int:
    """How many bytes reading an import source means: a zip by the uncompressed sizes its entries
    declare (what ``zipfile`` will ever give out), a folder by its files, anything else by its size."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    if not path.exists():
        return 0
    size = path.stat().st_size
    if fmt == "zip":
        try:
            with zipfile.ZipFile(path) as zf:
                return max(size, sum(i.file_size for i in zf.infolist()))
        except (zipfile.BadZipFile, OSError):  # read_zip reports it
            pass
    return size
