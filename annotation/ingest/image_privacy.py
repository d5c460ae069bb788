"""What an imported photo tells about the person who took it, taken out of the file that is stored.

``strip_metadata(data, keep_gps=…)`` returns the bytes to store — the file annotators see and
exports carry — and the metadata the admin keeps. Pure: no Django.

The stored file keeps its pixels and what is needed to show them: in a JPEG the compressed
image data, quantisation and Huffman tables, JFIF header, ICC colour profile and Adobe colour
transform, copied byte for byte (no re-encoding, so no quality is lost); in a PNG the image
chunks, palette, transparency and colour chunks; in a WebP the bitstream, alpha, animation and
ICC profile. Everything else goes: the EXIF block (GPS position, capture time, camera make,
model and serial numbers, owner and artist names, maker notes with their serials, the embedded
thumbnail, which can show an uncropped original), XMP and IPTC packets, comments, PNG text and
time chunks, the extra frames of a multi-picture (MPO) JPEG, and bytes after the image's end
(some phones append their own records there). Only the EXIF orientation survives, in a new
minimal EXIF block, so the picture is still shown upright. TIFF files are rewritten by Pillow
(losslessly: TIFF compression here is lossless); a JPEG whose structure cannot be walked is
re-encoded by Pillow at quality 95 (``reencoded`` says so).

The admin's copy (``metadata``) uses the item metadata keys the import already stores
(``annotation.curation.exif_metadata`` flattened with the ``exif_`` prefix): ``exif_taken_at``,
``exif_camera_make``, ``exif_camera_model``, ``exif_orientation``, and ``exif_gps_lat`` /
``exif_gps_lon`` only when the admin allows GPS.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from annotation.curation.measures import exif_metadata, flat_exif

_ORIENTATION = 0x0112
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
# Tags that name a device or a person: reported in ``removed`` when the file had them.
_IDENTIFYING = {
    0xA431: "serial_number",  # BodySerialNumber
    0xA435: "serial_number",  # LensSerialNumber
    0xA430: "owner",  # CameraOwnerName
    0x013B: "owner",  # Artist
    0x8298: "owner",  # Copyright
    0x927C: "maker_note",  # MakerNote (vendors keep serial numbers there)
    0xA420: "unique_id",  # ImageUniqueID
    0x013C: "host_computer",
}


class ImageMetadataError(ValueError):
    pass


@dataclass(frozen=True)
class StrippedImage:
    data: bytes  # the file to store and to show
    metadata: dict[str, Any]  # for admins: item metadata keys (exif_taken_at, …)
    removed: tuple[str, ...]  # what the original carried that the stored file does not, sorted
    reencoded: bool = False  # True when the pixels were encoded again (TIFF, or a JPEG that could not be walked)


def strip_metadata(data: bytes, *, keep_gps: bool = False, keep_taken_at: bool = True, keep_camera: bool = True) -> StrippedImage:
    """The file without identifying metadata, and the metadata the admin keeps.
    ``keep_gps``: whether the admin's copy keeps the position (the stored file never does)."""
    try:
        image = Image.open(io.BytesIO(data))
        image_format = image.format
        exif = image.getexif()
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageMetadataError(f"not an image Pillow can read: {exc}") from None
    measured = exif_metadata(image)
    orientation = measured.get("orientation", 1)
    removed = _identifying(exif, image)
    kept = {k: v for k, v in measured.items() if _wanted(k, keep_gps=keep_gps, keep_taken_at=keep_taken_at, keep_camera=keep_camera)}
    metadata = {f"exif_{k}": v for k, v in flat_exif(kept).items()}
    reencoded = False
    try:
        if image_format in ("JPEG", "MPO"):
            out, found = _strip_jpeg(data, orientation)
        elif image_format == "PNG":
            out, found = _strip_png(data, orientation)
        elif image_format == "WEBP":
            out, found = _strip_webp(data, orientation)
        else:
            out, found, reencoded = _resave(image), set(), True
    except _Malformed:
        out, found, reencoded = _resave(image), set(), True
    return StrippedImage(out, metadata, tuple(sorted(removed | found)), reencoded)


def _wanted(key: str, *, keep_gps: bool, keep_taken_at: bool, keep_camera: bool) -> bool:
    if key == "gps":
        return keep_gps
    if key == "taken_at":
        return keep_taken_at
    if key in ("camera_make", "camera_model"):
        return keep_camera
    return key == "orientation"


def _identifying(exif: Image.Exif, image: Image.Image) -> set[str]:
    found: set[str] = set()
    try:
        sub = exif.get_ifd(_EXIF_IFD)
        if exif.get_ifd(_GPS_IFD):
            found.add("gps")
    except Exception:  # a broken EXIF block is dropped whole anyway
        return {"exif"}
    for tags in (exif, sub):
        for tag, name in _IDENTIFYING.items():
            if tags.get(tag):
                found.add(name)
    if any(tag != _ORIENTATION for tag in exif) or sub:
        found.add("exif")
    for key, name in (("xmp", "xmp"), ("XML:com.adobe.xmp", "xmp"), ("comment", "comment"), ("photoshop", "iptc")):
        if image.info.get(key):
            found.add(name)
    return found


def minimal_exif(orientation: int) -> bytes:
    """A TIFF structure holding only the orientation tag (big-endian, one IFD entry)."""
    return b"MM\x00\x2a" + struct.pack(">IH", 8, 1) + struct.pack(">HHIHH", _ORIENTATION, 3, 1, orientation, 0) + struct.pack(">I", 0)


class _Malformed(Exception):
    pass


# --- JPEG ---------------------------------------------------------------------------------------

_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM and RST0–7 carry no length


def _jpeg_keep(marker: int, payload: bytes) -> str | None:
    """None to keep a segment, else the name of what it held."""
    if marker == 0xE0:
        return None if payload.startswith(b"JFIF\x00") else "thumbnail"  # JFXX holds a thumbnail
    if marker == 0xE1:
        return "exif" if payload.startswith(b"Exif\x00") else "xmp"
    if marker == 0xE2:
        return None if payload.startswith(b"ICC_PROFILE\x00") else "extra_frames" if payload.startswith(b"MPF\x00") else "app_data"
    if marker == 0xED:
        return "iptc"
    if marker == 0xEE:
        return None if payload.startswith(b"Adobe") else "app_data"  # Adobe's colour transform is needed to decode
    if 0xE3 <= marker <= 0xEF:
        return "app_data"
    if marker == 0xFE:
        return "comment"
    return None


def _strip_jpeg(data: bytes, orientation: int) -> tuple[bytes, set[str]]:
    if not data.startswith(b"\xff\xd8"):
        raise _Malformed
    out = [b"\xff\xd8"]
    found: set[str] = set()
    exif_at: int | None = None
    pos, n = 2, len(data)
    while True:
        if pos + 2 > n or data[pos] != 0xFF:
            raise _Malformed
        while pos + 1 < n and data[pos + 1] == 0xFF:  # fill bytes
            pos += 1
        marker = data[pos + 1]
        if marker == _EOI:
            out.append(b"\xff\xd9")
            if pos + 2 < n:
                found.add("trailing_data")
            break
        if marker in _STANDALONE:
            out.append(data[pos : pos + 2])
            pos += 2
            continue
        if pos + 4 > n:
            raise _Malformed
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if length < 2 or end > n:
            raise _Malformed
        dropped = _jpeg_keep(marker, data[pos + 4 : end])
        if dropped is None:
            out.append(data[pos:end])
        else:
            found.add(dropped)
            if dropped == "exif" and exif_at is None:
                exif_at = len(out)
        pos = end
        if marker == _SOS:
            scan_end = _entropy_end(data, pos)
            out.append(data[pos:scan_end])
            pos = scan_end
    if orientation != 1:
        if exif_at is None:  # after SOI, and after a JFIF header, which must come first
            exif_at = 2 if len(out) > 1 and out[1][:2] == b"\xff\xe0" else 1
        tiff = b"Exif\x00\x00" + minimal_exif(orientation)
        out.insert(exif_at, b"\xff\xe1" + struct.pack(">H", len(tiff) + 2) + tiff)
    return b"".join(out), found


def _entropy_end(data: bytes, pos: int) -> int:
    """Where the compressed data of a scan ends: at the first marker that is neither a stuffed
    0xFF00 nor a restart marker."""
    n = len(data)
    while True:
        pos = data.find(b"\xff", pos)
        if pos == -1 or pos + 1 >= n:
            raise _Malformed  # no end of image
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            pos += 1 if following == 0xFF else 2
            continue
        return pos


# --- PNG ----------------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_KEEP = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
             b"pHYs", b"bKGD", b"hIST", b"acTL", b"fcTL", b"fdAT", b"cICP", b"mDCv", b"cLLi"}  # fmt: skip


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _strip_png(data: bytes, orientation: int) -> tuple[bytes, set[str]]:
    if not data.startswith(_PNG_SIGNATURE):
        raise _Malformed
    out = [_PNG_SIGNATURE]
    found: set[str] = set()
    pos, n = len(_PNG_SIGNATURE), len(data)
    exif_written = orientation == 1
    while pos + 12 <= n:
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > n:
            raise _Malformed
        if kind in (b"IDAT", b"fdAT", b"IEND") and not exif_written:
            out.append(_png_chunk(b"eXIf", minimal_exif(orientation)))  # the spec wants eXIf before the image data
            exif_written = True
        if kind in _PNG_KEEP:
            out.append(data[pos:end])
        else:
            found.add({b"eXIf": "exif", b"tIME": "time", b"zTXt": "text", b"tEXt": "text", b"iTXt": "text"}.get(kind, "app_data"))
        pos = end
        if kind == b"IEND":
            if pos < n:
                found.add("trailing_data")
            break
    else:
        raise _Malformed
    return b"".join(out), found


# --- WebP ---------------------------------------------------------------------------------------

_WEBP_KEEP = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"}
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def _riff_chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) % 2 else b"")


def _strip_webp(data: bytes, orientation: int) -> tuple[bytes, set[str]]:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise _Malformed
    chunks: list[tuple[bytes, bytes]] = []
    found: set[str] = set()
    pos, n = 12, min(len(data), 8 + struct.unpack("<I", data[4:8])[0])
    while pos + 8 <= n:
        kind = data[pos : pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        end = pos + 8 + size
        if end > n:
            raise _Malformed
        if kind in _WEBP_KEEP:
            chunks.append((kind, data[pos + 8 : end]))
        else:
            found.add({b"EXIF": "exif", b"XMP ": "xmp"}.get(kind, "app_data"))
        pos = end + (size % 2)
    if len(data) > n:
        found.add("trailing_data")
    has_vp8x = bool(chunks) and chunks[0][0] == b"VP8X"
    if has_vp8x:
        header = bytearray(chunks[0][1])
        header[0] &= ~(_VP8X_EXIF | _VP8X_XMP) & 0xFF
        if orientation != 1:  # an EXIF chunk needs the extended format, which a simple file lacks
            header[0] |= _VP8X_EXIF
            chunks.append((b"EXIF", minimal_exif(orientation)))
        chunks[0] = (b"VP8X", bytes(header))
    body = b"WEBP" + b"".join(_riff_chunk(kind, payload) for kind, payload in chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body, found


# --- anything else: Pillow writes it again ------------------------------------------------------


def _resave(image: Image.Image) -> bytes:
    """The image encoded again with no metadata but the orientation (TIFF losslessly, with its
    compression where Pillow can write it; a JPEG at quality 95 with its ICC profile)."""
    image.load()
    # Read after decoding: Pillow turns a TIFF upright as it decodes it (and drops its tag).
    orientation = image.getexif().get(_ORIENTATION, 1)
    exif = Image.Exif()
    if orientation != 1:
        exif[_ORIENTATION] = orientation
    fmt = image.format or "PNG"
    options: dict[str, Any] = {"exif": exif.tobytes()}
    if icc := image.info.get("icc_profile"):
        options["icc_profile"] = icc
    if fmt in ("JPEG", "MPO"):
        fmt = "JPEG"
        options["quality"] = 95
        image = image.convert("RGB") if image.mode not in ("RGB", "L", "CMYK") else image
    elif fmt == "TIFF":
        compression = image.info.get("compression")
        if compression in ("raw", "tiff_lzw", "tiff_deflate", "tiff_adobe_deflate", "packbits"):
            options["compression"] = compression
    fresh = Image.new(image.mode, image.size)  # a new image: Pillow copies a TIFF's own tags when it saves one
    fresh.paste(image)
    if image.mode == "P" and (palette := image.getpalette()):
        fresh.putpalette(palette)
    buffer = io.BytesIO()
    fresh.save(buffer, format=fmt, **options)
    return buffer.getvalue()
