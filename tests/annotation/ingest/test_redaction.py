"""PII redaction (annotation.redaction) and image metadata stripping (annotation.image_privacy).
No database. Recall and false-positive rates on generated sets are measured in bench/redaction.py;
here each kind and each look-alike has hand-written cases."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps
from stdnum import verhoeff

from annotation.ingest import image_privacy, redaction
from annotation.ingest.redaction import KINDS, PatternInvalid, TextTooLong, custom_pattern, redact
from tests import curation_photos

REGIONS = ("US", "GB", "IN")


def found(text: str, **options: object) -> list[tuple[str, str]]:
    options.setdefault("kinds", KINDS)
    options.setdefault("phone_regions", REGIONS)
    return [(s.kind, s.original) for s in redact(text, **options).spans]  # type: ignore[arg-type]


# --- each kind, as people write it --------------------------------------------------------------

AADHAAR = "23456789012" + verhoeff.calc_check_digit("23456789012")

POSITIVE = {
    "email": [
        ("Write to john.smith@example.com today.", "john.smith@example.com"),
        ("Mail J.Smith+news@mail.example.co.uk.", "J.Smith+news@mail.example.co.uk"),
        ("cc: user_1@sub.domain.io, thanks", "user_1@sub.domain.io"),
        ("Adresse: josé.müller@exämple.de", "josé.müller@exämple.de"),
        ("<a href='mailto:ops-team@corp.example.org'>", "ops-team@corp.example.org"),
    ],
    "phone": [
        ("Call +1 415-555-2671 after six.", "+1 415-555-2671"),
        ("UK office: +44 20 7946 0958", "+44 20 7946 0958"),
        ("From abroad dial 0044 20 7946 0958.", "0044 20 7946 0958"),
        ("Reach me at (415) 555-2671.", "(415) 555-2671"),
        ("My cell is 415.555.2671.", "415.555.2671"),
        ("Desk 415-555-2671 x123, ask for Sam", "415-555-2671 x123"),
        ("Zürich +41 (0)44 668 18 00", "+41 (0)44 668 18 00"),
        ("WhatsApp +91 98765 43210", "+91 98765 43210"),
        ("Can someone call me on 4155552671?", "4155552671"),
        ("London: 020 7946 0958", "020 7946 0958"),
        ("Mobile 07911 123456", "07911 123456"),
        ("Greenland +299 84 23 30", "+299 84 23 30"),
        ("4155552671 (mobile)", "4155552671"),
        ("Jane Doe\n4155552671 office\n", "4155552671"),
        ("Reception: 4155552671-Office", "4155552671"),
        ("UK desk (07700) 009 078", "(07700) 009 078"),
        ("Leeds 0113 496 0069", "0113 496 0069"),
    ],
    "card": [
        ("Card 4111 1111 1111 1111, exp 12/27", "4111 1111 1111 1111"),
        ("card 4111-1111-1111-1111", "4111-1111-1111-1111"),
        ("cc 4111111111111111", "4111111111111111"),
        ("Amex 3782 822463 10005", "3782 822463 10005"),
        ("Mastercard 5555555555554444", "5555555555554444"),
        ("Mastercard 2223 0031 2200 3222", "2223 0031 2200 3222"),
        ("Discover 6011111111111117", "6011111111111117"),
        ("JCB 3530111333300000", "3530111333300000"),
        ("Diners 3056 930902 5904", "3056 930902 5904"),
        ("UnionPay 6200000000000005", "6200000000000005"),
        ("Maestro 6759649826438453", "6759649826438453"),
        ("Mir 2200000000000004", "2200000000000004"),
    ],
    "iban": [
        ("Pay to GB82 WEST 1234 5698 7654 32 please", "GB82 WEST 1234 5698 7654 32"),
        ("IBAN DE89370400440532013000.", "DE89370400440532013000"),
        ("iban fr14 2004 1010 0505 0001 3m02 606", "fr14 2004 1010 0505 0001 3m02 606"),
        ("NL91ABNA0417164300 is mine", "NL91ABNA0417164300"),
        ("GB82 WEST 1234 5698 7654 32 AND THEN", "GB82 WEST 1234 5698 7654 32"),
    ],
    "ip": [
        ("blocked from 192.168.1.20 again", "192.168.1.20"),
        ("resolver 8.8.8.8:53 timed out", "8.8.8.8"),
        ("client 2001:db8::8a2e:370:7334 connected", "2001:db8::8a2e:370:7334"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("link fe80::1%eth0 up", "fe80::1%eth0"),
        ("2001:0db8:0000:0000:0000:ff00:0042:8329", "2001:0db8:0000:0000:0000:ff00:0042:8329"),
        ("mapped ::ffff:192.0.2.128 seen", "::ffff:192.0.2.128"),
    ],
    "us_ssn": [
        ("SSN 536-90-4399", "536-90-4399"),
        ("Patient file: 536 90 4399", "536 90 4399"),
        ("my social security number is 536904399", "536904399"),
    ],
    "uk_nino": [("NI number AB 12 34 56 C", "AB 12 34 56 C"), ("nino: ab123456c", "ab123456c")],
    "ca_sin": [("SIN 278 018 460", "278 018 460"), ("SIN: 278-018-460", "278-018-460"), ("social insurance 278018460", "278018460")],
    "fr_nir": [("NIR 2 95 10 99 126 111 93", "2 95 10 99 126 111 93"), ("n° 295109912611193", "295109912611193")],
    "es_dni": [("DNI 54362315K", "54362315K"), ("NIE X2482300W", "X2482300W"), ("doc 54362315-K", "54362315-K")],
    "it_fiscal_code": [("CF RCCMNL83S18D969H", "RCCMNL83S18D969H"), ("codice fiscale rccmnl83s18d969h", "rccmnl83s18d969h")],
    "nl_bsn": [("BSN 1112.22.333", "1112.22.333"), ("burgerservicenummer 111222333", "111222333")],
    "br_cpf": [("CPF 390.533.447-05", "390.533.447-05"), ("cpf: 39053344705", "39053344705")],
    "in_aadhaar": [
        (f"Aadhaar {AADHAAR[:4]} {AADHAAR[4:8]} {AADHAAR[8:]}", f"{AADHAAR[:4]} {AADHAAR[4:8]} {AADHAAR[8:]}"),
        (f"my aadhaar number is {AADHAAR}", AADHAAR),
    ],
    "pl_pesel": [("PESEL 44051401359", "44051401359")],
}


@pytest.mark.parametrize(
    ("kind", "text", "value"), [(kind, text, value) for kind, cases in POSITIVE.items() for text, value in cases]
)
def test_each_kind_is_found_in_its_usual_spellings(kind, text, value):
    result = redact(text, kinds=KINDS, phone_regions=REGIONS)
    assert [(s.kind, s.original) for s in result.spans] == [(kind, value)]
    placeholder = redaction.PLACEHOLDERS.get(kind) or f"[{kind.upper()}]"
    assert result.text == text.replace(value, placeholder)
    assert value not in result.text


# Each changed in its check (or its structure): not a card, an IBAN, an identifier.
NEAR_MISSES = [
    ("card", "Card 4111 1111 1111 1112"),  # Luhn
    ("card", "Card 9111 1111 1111 1119"),  # Luhn-valid, no network issues 9…
    ("card", "Card 41 1111 11111 11111"),  # not grouped as cards are printed
    ("iban", "IBAN GB83 WEST 1234 5698 7654 32"),  # mod-97
    ("iban", "IBAN GB82 WEST 1234 5698 7654"),  # too short for GB
    ("ip", "address 256.1.1.1"),
    ("ip", "address 1.2.3"),
    ("us_ssn", "SSN 666-90-4399"),  # area 666 is never issued
    ("us_ssn", "SSN 536-00-4399"),  # group 00
    ("uk_nino", "NI number QQ 12 34 56 C"),  # Q never a prefix letter
    ("uk_nino", "NI number AB 12 34 56 E"),  # suffix A–D only
    ("ca_sin", "SIN 278 018 461"),
    ("ca_sin", "Part 278 018 460"),  # Luhn-valid, but 3-3-3 groups are common: needs its name
    ("fr_nir", "NIR 2 95 10 99 126 111 94"),
    ("es_dni", "DNI 54362315J"),
    ("it_fiscal_code", "CF RCCMNL83S18D969A"),
    ("nl_bsn", "BSN 1112.22.334"),
    ("br_cpf", "CPF 390.533.447-06"),
    ("pl_pesel", "PESEL 44051401358"),
    ("in_aadhaar", f"Aadhaar {AADHAAR[:-1]}{(int(AADHAAR[-1]) + 1) % 10}"),
    ("phone", "call 415-555-26"),  # too short
]


@pytest.mark.parametrize(("kind", "text"), NEAR_MISSES)
def test_a_failed_check_is_not_redacted(kind, text):
    assert found(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "my social security number: 536904399",  # named
        "536904399 is the number",  # plain nine digits, unnamed
    ],
)
def test_plain_digits_need_the_identifier_s_name(text):
    kinds = found(text, kinds=["us_ssn"])
    assert kinds == ([("us_ssn", "536904399")] if "social" in text else [])


def test_bare_digits_need_a_phone_word_to_be_a_phone():
    assert found("Please call 4155552671 tomorrow") == [("phone", "4155552671")]
    assert found("Please see 4155552671 tomorrow") == []
    assert found("Order number is 4155552671.") == []


def test_phone_numbers_must_be_valid_in_a_region():
    # No US area code starts with 1; in the UK, 01234 567890 is a Bedford number.
    assert found("call (123) 456-7890", phone_regions=("US",)) == []
    assert found("call (123) 456-7890", phone_regions=("GB",)) == [("phone", "(123) 456-7890")]


def test_national_numbers_are_read_in_the_admins_regions_only():
    assert found("Mobile 07911 123456", phone_regions=("US",)) == []
    assert found("Mobile 07911 123456", phone_regions=("GB",)) == [("phone", "07911 123456")]
    # With a country code, any region's number.
    assert found("Mobile +44 7911 123456", phone_regions=("US",)) == [("phone", "+44 7911 123456")]


def test_only_the_chosen_kinds_are_redacted():
    text = "Mail a@b.io, SSN 536-90-4399, card 4111 1111 1111 1111"
    assert [k for k, _ in found(text, kinds=["email"])] == ["email"]
    assert [k for k, _ in found(text, kinds=redaction.DEFAULT_KINDS)] == ["email", "card"]
    assert found(text, kinds=[]) == []
    with pytest.raises(ValueError, match="unknown PII kinds"):
        redact(text, kinds=["emial"])
    with pytest.raises(ValueError, match="unknown phone regions"):
        redact(text, phone_regions=["UK"])  # the code is GB


# --- look-alikes: none of these is PII ----------------------------------------------------------

LOOKALIKES = {
    "order numbers": [
        "Order #4155552671 has shipped.",
        "Your order number is 4111111111111111, keep it for returns.",
        "Order 112-4155552-6712345 was delivered yesterday.",
        "Ref ORD-2024-415555 confirmed.",
        "PO 4500012345 approved.",
        "Invoice INV-004512 and invoice 2024/0042 paid.",
        "Transaction ID 4111111111111111 completed.",
        "Customer no. 4155552671 updated their preferences.",
        "Confirmation code 4111 1111 1111 1111.",
    ],
    "version strings": [
        "Upgraded to v1.2.3 and the crash is gone.",
        "version 1.2.3.4 fixes the login bug",
        "Chrome 120.0.6099.109 on Windows",
        "Chrome 120.0.3459.22 on Windows",
        "Chrome 97.0.4090.252 on Windows",
        "build 10.0.19041.1",
        "Firmware version 2.0.1.45 installed",
        "See section 4.2.1.3 of the manual.",
        "libfoo 2.10.0+build.20240115 breaks the API",
        "Running kernel 6.5.0-14-generic",
        "Mozilla/5.0 (X11; Linux x86_64; rv:1.9.7.20) Gecko/20100101 Firefox/1.9.2.20",
    ],
    "timestamps": [
        "2024-01-15T10:32:45Z job finished",
        "2024-01-15T10:32:45.123+01:00 started",
        "[2024-01-15 10:32:45,123] INFO ready",
        "created_at=1705314765 updated_at=1705314999",
        "ts=1705314765123 event=click",
        "Mon Jan 15 10:32:45 2024",
        '"15/Jan/2024:10:32:45 +0000" "GET / HTTP/1.1" 200',
        "Backup 20240115_103245.tar.gz written",
        "at 10:32:45.123456 the queue drained",
    ],
    "dates": [
        "Delivered on 15/01/2024.",
        "Due 01-15-2024, please pay by then.",
        "Valid from 2024.01.15 to 2025.01.15",
        "Geburtsdatum 15.01.1984",
        "File dated 20240115",
        "Period 2024-01-15 – 2024-02-15",
    ],
    "log lines": [
        "Listening on port 8080",
        "connect to localhost:5432 timed out after 30000 ms",
        "GET /api/v1/items/4155552 200 35ms",
        "POST /orders HTTP/1.1 201 36590 bytes in 0.032s",
        "worker-3 pid=4155552 rss=4155552671kB cpu=12.5%",
        "tcp6       0      0 :::8080                 :::*                    LISTEN      1234/nginx",
        "docker run -p 8080:8080 -m 512m app:1.2",
    ],
    "hex ids": [
        "id 3fa85f64-5717-4562-b3fc-2c963f66afa6 not found",
        "commit a94a8fe5ccb19ba61c4c0873d391e987982fbbd3 fixed it",
        "ObjectId('507f1f77bcf86cd799439011')",
        "segfault at 0x7ffee4b2c8a0 ip 0x063643653823",
        "md5 9e6c8410e4b6c4f7193520ea450133c1 sha256 5752057a53b185b23f29ceaf7d95f22f",
        "device MAC 00:1A:2B:3C:4D:5E joined",
        "slice x[1::2] and std::vector",
    ],
    "ISBNs and barcodes": [
        "ISBN 9783161484100",
        "ISBN-13: 978-3-16-148410-0",
        "ISBN 0-306-40615-2",
        "see 1-63138-044-3 and 1-245-43116-1",  # ISBN-10s without their name
        "EAN 4006381333931",
        "Scanned 4006381333931 at till 3",
        "Scanned 4006381333924, 4006381334013 and 4006381334112.",  # EAN-13 and Luhn both hold
        "EAN 0035834861114",
    ],
    "tracking numbers": [
        "UPS tracking 1Z999AA10123456784",
        "FedEx tracking number 4111 1111 1111",
        "USPS 9400 1000 0000 0000 0000 00",
        "USPS tracking 9400111899223100000000",
        "Royal Mail AB123456789GB",
        "Consignment 4111-1111-1111-1111",
        "tracking: 300461147965967",
    ],
    "prices": [
        "Total $4,155,552.67",
        "Preis 1.234.567,89 €",
        "Prix : 1 234 567,89 €",
        "USD 12,345,678.90 wired",
        "Budget: 4155552671 EUR",
    ],
    "other numbers": [
        "Resolution 1920x1080, aspect 16:9",
        "Pi is 3.141592653589793",
        "it said -175.052468 and 4155.552671 then stopped",  # decimals, one negative
        "ZIP 80073-5562",
        "Sort code 12-34-56",
        "Part number 415-5552-671",
        "doi:10.1000/4155552671",
    ],
}


@pytest.mark.parametrize(
    ("kind", "text"), [(kind, text) for kind, texts in LOOKALIKES.items() for text in texts]
)
def test_look_alikes_are_left_alone(kind, text):
    assert found(text) == []


# --- output, overlaps, custom patterns -----------------------------------------------------------


def test_spans_point_into_both_texts_and_keep_the_originals():
    text = "Hi, I'm at ann@example.org or +44 20 7946 0958; card 4111 1111 1111 1111."
    result = redact(text)
    assert result.text == "Hi, I'm at [EMAIL] or [PHONE]; card [CARD]."
    for span in result.spans:
        assert text[span.start : span.end] == span.original
        assert result.text[span.redacted_start :].startswith(span.placeholder)
    assert result.counts() == {"email": 1, "phone": 1, "card": 1}
    assert redact("nothing to see").spans == ()


def test_overlaps_resolve_longest_then_most_specific():
    card = "4111 1111 1111 1111"
    eight = custom_pattern(name="eight", pattern=r"[0-9]{4} [0-9]{4}")
    # The card is longer than the custom pattern's match inside it.
    assert [(s.kind, s.original) for s in redact(f"x {card}", custom_patterns=[eight]).spans] == [("card", card)]
    # Equally long: the built-in kind wins over an admin's pattern, whatever their order.
    mail = custom_pattern(name="mail", pattern=r"[a-z]+@[a-z]+\.io")
    for patterns in ([mail], [mail, eight]):
        assert [s.kind for s in redact("a@b.io", custom_patterns=patterns).spans] == ["email"]


def test_custom_patterns_are_redacted_with_their_name():
    employee = custom_pattern(name="employee", pattern=r"\bEMP-[0-9]{6}\b")
    result = redact("Badge EMP-004512 and EMP-12", custom_patterns=[employee])
    assert result.text == "Badge [CUSTOM:employee] and EMP-12"
    assert result.spans[0].kind == "custom:employee"
    # Custom patterns run on texts with no digit or "@" too.
    word = custom_pattern(name="codename", pattern=r"(?i)\bbluebird\b")
    assert redact("Project Bluebird starts", custom_patterns=[word]).text == "Project [CUSTOM:codename] starts"


@pytest.mark.parametrize(
    ("name", "pattern", "field", "message"),
    [
        ("ok", r"(a)\1", "pattern", "not a valid regular expression here"),
        ("ok", r"(?<=x)y", "pattern", "no backreferences or look-around"),
        ("ok", "x" * (redaction.MAX_PATTERN_CHARS + 1), "pattern", "the limit is 500"),
        ("ok", "", "pattern", "is empty"),
        ("ok", r"a*", "pattern", "matches the empty text"),
        ("ok", r"a{1000}{1000}", "pattern", "not a valid regular expression"),
        ("Bad Name", r"x", "name", "lower-case letters"),
    ],
)
def test_a_bad_pattern_is_refused_with_its_reason(name, pattern, field, message):
    with pytest.raises(PatternInvalid, match=message) as refused:
        custom_pattern(name=name, pattern=pattern)
    assert refused.value.field == field


def test_a_catastrophic_pattern_runs_in_linear_time():
    # Under backtracking, "(x+x+)+y" on 100 kB of "x" takes longer than the age of the universe.
    # CPU time, not wall time: other work on the machine does not count against it.
    text = "x" * 100_000
    for source in (r"(x+x+)+y", r"(x|xx)+z", r"(\w+\s?)+!z"):
        pattern = custom_pattern(name="evil", pattern=source)
        started = time.process_time()
        redact(text + "!", custom_patterns=[pattern])
        assert time.process_time() - started < 5


@pytest.mark.parametrize(
    "text",
    [
        "@" * 100_000,
        "a" * 100_000 + "@",
        "a." * 50_000 + "@" + "b." * 50_000,
        "1 " * 50_000,
        "1-" * 50_000,
        "1." * 50_000,
        "1:" * 50_000,
        "ab12 " * 20_000,
        "4" * 100_000,
    ],
)
def test_the_built_in_detectors_stay_linear_on_hostile_text(text):
    started = time.process_time()
    redact(text, kinds=KINDS, phone_regions=REGIONS)
    assert time.process_time() - started < 5


def test_the_number_of_patterns_is_bounded():
    patterns = [custom_pattern(name=f"p{i}", pattern=f"x{i}y") for i in range(redaction.MAX_CUSTOM_PATTERNS + 1)]
    assert redact("x3y", custom_patterns=patterns[:-1]).text == "[CUSTOM:p3]"
    with pytest.raises(ValueError, match="at most 50"):
        redact("x3y", custom_patterns=patterns)


def test_a_text_over_the_limit_is_refused():
    with pytest.raises(TextTooLong, match="at most 1,000,000"):
        redact("x" * (redaction.MAX_TEXT_CHARS + 1))


# --- image metadata ----------------------------------------------------------------------------

SERIAL, OWNER, MAKER_NOTE = "SN-0042-7731", "Jane Q. Photographer", b"Canon\x00serial 0042-7731"


def identifying_exif(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS 5D Mark IV"
    exif[0x0112] = orientation
    exif[0x0132] = "2023:05:01 10:11:12"
    exif[0x013B] = OWNER
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2023:05:01 10:11:12"
    sub[0xA431] = SERIAL
    sub[0xA430] = OWNER
    sub[0x927C] = MAKER_NOTE
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (51.0, 30.0, 36.0), "W", (0.0, 7.0, 30.0)
    return exif


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return curation_photos.source_photos()["chelsea"]


def photo_jpeg(photo: Image.Image, **extra: object) -> bytes:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=90, exif=identifying_exif(), icc_profile=icc, comment=f"by {OWNER}".encode(),
               xmp=b"<x:xmpmeta><exif:GPSLatitude>51,30.6N</exif:GPSLatitude></x:xmpmeta>", **extra)  # fmt: skip
    return out.getvalue()


# A TIFF's own structure: size, samples, compression, strips, colour profile (no names, times or places).
TIFF_STRUCTURE = {256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 338, 339, 34675}


def assert_carries_none(data: bytes) -> None:
    """Nothing identifying in the stored file: as Pillow reads it, and in its raw bytes."""
    stored = Image.open(io.BytesIO(data))
    exif = stored.getexif()
    assert not exif.get_ifd(0x8825)  # no GPS
    assert not exif.get_ifd(0x8769)  # no capture time, serial numbers, maker note
    assert set(exif) <= {0x0112} | (TIFF_STRUCTURE if stored.format == "TIFF" else set())  # the orientation at most
    assert not {"xmp", "XML:com.adobe.xmp", "comment", "photoshop"} & set(stored.info)
    for secret in (SERIAL.encode(), OWNER.encode(), b"Canon", b"2023:05:01", b"GPSLatitude"):
        assert secret not in data


def test_a_jpeg_loses_gps_and_serials_but_keeps_its_pixels_bytes_and_orientation(photo):
    original = photo_jpeg(photo) + b"\x00TRAILER gps=51.51,-0.125"
    result = image_privacy.strip_metadata(original)
    assert_carries_none(result.data)
    assert not result.reencoded
    # Not re-encoded: the same decoded pixels, the same colour profile, still shown upright.
    before, after = Image.open(io.BytesIO(original)), Image.open(io.BytesIO(result.data))
    assert np.array_equal(np.asarray(before), np.asarray(after))
    assert after.info["icc_profile"] == before.info["icc_profile"]
    assert after.getexif()[0x0112] == 6
    assert ImageOps.exif_transpose(after).size == ImageOps.exif_transpose(before).size == (photo.height, photo.width)
    assert set(result.removed) >= {"gps", "serial_number", "owner", "maker_note", "xmp", "comment", "trailing_data"}
    # The admin keeps capture time and camera; GPS only when allowed.
    assert result.metadata == {
        "exif_taken_at": "2023-05-01T10:11:12",
        "exif_camera_make": "Canon",
        "exif_camera_model": "Canon EOS 5D Mark IV",
        "exif_orientation": 6,
    }
    with_gps = image_privacy.strip_metadata(original, keep_gps=True)
    assert (with_gps.metadata["exif_gps_lat"], with_gps.metadata["exif_gps_lon"]) == (51.51, -0.125)
    assert with_gps.data == result.data  # the stored file never has it
    bare = image_privacy.strip_metadata(original, keep_taken_at=False, keep_camera=False)
    assert bare.metadata == {"exif_orientation": 6}


def test_a_progressive_jpeg_keeps_every_scan(photo):
    original = photo_jpeg(photo, progressive=True)
    result = image_privacy.strip_metadata(original)
    assert_carries_none(result.data)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(original))), np.asarray(Image.open(io.BytesIO(result.data))))


def test_an_upright_jpeg_without_metadata_keeps_no_exif(photo):
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=85)
    result = image_privacy.strip_metadata(out.getvalue())
    assert result.data == out.getvalue()
    assert result.removed == () and result.metadata == {}


def test_a_multi_picture_jpeg_keeps_only_its_first_picture(photo):
    first, second = photo_jpeg(photo), io.BytesIO()
    photo.rotate(90, expand=True).save(second, "JPEG", exif=identifying_exif())
    out = io.BytesIO()
    Image.open(io.BytesIO(first)).save(out, "MPO", save_all=True, append_images=[Image.open(second)], exif=identifying_exif())
    assert Image.open(io.BytesIO(out.getvalue())).n_frames == 2
    result = image_privacy.strip_metadata(out.getvalue())
    stored = Image.open(io.BytesIO(result.data))
    assert stored.format == "JPEG" and getattr(stored, "n_frames", 1) == 1
    assert_carries_none(result.data)
    assert "extra_frames" in result.removed or "trailing_data" in result.removed


def camera_tiff(photo: Image.Image) -> bytes:
    """An uncompressed TIFF whose first IFD points to EXIF and GPS IFDs, as cameras write them
    (Pillow writes neither into a TIFF it saves)."""
    exif = identifying_exif()
    rgb = photo.convert("RGB")
    width, height = rgb.size
    for tag, value in ((256, width), (257, height), (258, (8, 8, 8)), (259, 1), (262, 2), (273, 0),
                       (277, 3), (278, height), (279, width * height * 3)):  # fmt: skip
        exif[tag] = value
    head = exif.tobytes()[len(b"Exif\x00\x00") :]
    offset = Image.open(io.BytesIO(head)).tile[0].offset  # where Pillow placed the strip
    return head + b"\x00" * (offset - len(head)) + rgb.tobytes()


def encoded(photo: Image.Image, fmt: str) -> bytes:
    if fmt == "TIFF":
        return camera_tiff(photo)
    out = io.BytesIO()
    options: dict[str, object] = {"exif": identifying_exif()}
    if fmt == "WEBP":
        options.update(lossless=True, xmp=b"<x:xmpmeta>GPSLatitude</x:xmpmeta>")
    photo.save(out, fmt, **options)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF"])
def test_png_webp_and_tiff_lose_their_metadata_and_keep_their_pixels(photo, fmt):
    original = encoded(photo, fmt)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the GPS is there to begin with
    result = image_privacy.strip_metadata(original)
    assert_carries_none(result.data)
    assert {"gps", "serial_number", "owner"} <= set(result.removed)
    assert result.metadata["exif_camera_model"] == "Canon EOS 5D Mark IV"
    before = ImageOps.exif_transpose(Image.open(io.BytesIO(original)))
    after = ImageOps.exif_transpose(Image.open(io.BytesIO(result.data)))
    assert np.array_equal(np.asarray(before), np.asarray(after))  # lossless, and still upright
    assert result.reencoded == (fmt == "TIFF")


def test_bytes_that_are_no_image_are_refused():
    with pytest.raises(image_privacy.ImageMetadataError, match="not an image"):
        image_privacy.strip_metadata(b"GIF89a but not really")
