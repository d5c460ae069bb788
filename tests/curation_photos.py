"""A folder of real photos and their altered copies, for testing and benchmarking curation.

The source photos are the natural images bundled with scikit-image (read from its package folder;
nothing is downloaded) and scikit-learn's two sample photos. For every source, ``build`` writes
the original as ``orig_<name>.jpg`` and altered copies of it; a few originals again byte for byte
under another name; and two broken files. The ``Manifest`` says what each file is, so a test can
score near-duplicate search (which files come from the same photo), exact-duplicate detection,
blur flags and the refusal of broken files.

Everything is deterministic: the same Pillow gives the same bytes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageEnhance, ImageFilter, ImageOps

# Genuine photographs and natural images only. Left out: synthetic images (logo, color, chessboard,
# phantom), the horse silhouette, clock_motion (blurred on purpose), and motorcycle_right (a
# near-identical stereo partner of motorcycle_left, so "different photo" would be wrong for it).
SKIMAGE_PHOTOS = (
    "astronaut.png",
    "brick.png",
    "camera.png",
    "cell.png",
    "chelsea.png",
    "coffee.png",
    "coins.png",
    "grass.png",
    "gravel.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "microaneurysms.png",
    "moon.png",
    "motorcycle_left.png",
    "page.png",
    "retina.jpg",
    "rocket.jpg",
    "text.png",
)

ORIGINAL_QUALITY = 92
# Transforms that keep the picture the same to a person; a perceptual hash should keep them close.
NEAR_TRANSFORMS = ("resize", "recompress", "crop", "brighten")
# A mirror image is the same photo but a different hash: scored separately, never required.
TRANSFORMS = (*NEAR_TRANSFORMS, "flip", "blur")
EXACT_COPIES = 3  # how many originals are written a second time, byte for byte


@dataclass(frozen=True)
class PhotoFile:
    name: str  # file name inside the folder
    source: str  # the source photo ("astronaut"); "" for a file that is not a photo at all
    kind: str  # "original", one of TRANSFORMS, "copy", "truncated" or "fake"

    @property
    def broken(self) -> bool:
        return self.kind in ("truncated", "fake")


@dataclass(frozen=True)
class Manifest:
    folder: Path
    files: tuple[PhotoFile, ...]

    def by_kind(self, *kinds: str) -> list[PhotoFile]:
        return [f for f in self.files if f.kind in kinds]

    @property
    def sources(self) -> list[str]:
        return [f.source for f in self.by_kind("original")]

    def original(self, source: str) -> str:
        """The file name of a source's original."""
        return f"orig_{source}.jpg"

    @property
    def near_duplicates(self) -> dict[str, tuple[str, str]]:
        """{altered file: (its original, the transform)} for every transform, flip and blur included."""
        return {f.name: (self.original(f.source), f.kind) for f in self.by_kind(*TRANSFORMS)}

    @property
    def exact_copies(self) -> dict[str, str]:
        """{copy: its original}; the bytes are identical."""
        return {f.name: self.original(f.source) for f in self.by_kind("copy")}

    @property
    def blurred(self) -> dict[str, str]:
        """{blurred copy: its original}."""
        return {f.name: self.original(f.source) for f in self.by_kind("blur")}

    @property
    def broken(self) -> dict[str, str]:
        """{file: "truncated" or "fake"}: files that are not readable images."""
        return {f.name: f.kind for f in self.files if f.broken}

    def source_of(self, name: str) -> str:
        return next(f.source for f in self.files if f.name == name)

    def same_photo(self, a: str, b: str) -> bool:
        """Whether two files come from the same source photo; anything else is unrelated."""
        sa, sb = self.source_of(a), self.source_of(b)
        return bool(sa) and sa == sb


def source_photos() -> dict[str, Image.Image]:
    """{name: image} of the source photos, in RGB or L, sorted by name."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    folder = Path(os.path.dirname(skimage.data.__file__))
    photos: dict[str, Image.Image] = {}
    for file in SKIMAGE_PHOTOS:
        with Image.open(folder / file) as img:
            photos[Path(file).stem] = _plain(img)
    sample = load_sample_images()
    for path, array in zip(sample.filenames, sample.images, strict=True):
        photos[Path(path).stem] = _plain(Image.fromarray(array))
    return dict(sorted(photos.items()))


def _plain(img: Image.Image) -> Image.Image:
    img.load()
    return img.copy() if img.mode in ("RGB", "L") else img.convert("RGB")


def transform(img: Image.Image, kind: str) -> tuple[Image.Image, int]:
    """The altered picture and the JPEG quality to save it at."""
    w, h = img.size
    if kind == "resize":
        return img.resize((w * 3 // 4, h * 3 // 4), Image.Resampling.LANCZOS), ORIGINAL_QUALITY
    if kind == "recompress":
        return img, 40
    if kind == "crop":
        dx, dy = round(w * 0.02), round(h * 0.02)
        return img.crop((dx, dy, w - dx, h - dy)), ORIGINAL_QUALITY
    if kind == "brighten":
        return ImageEnhance.Brightness(img).enhance(1.25), ORIGINAL_QUALITY
    if kind == "flip":
        return ImageOps.mirror(img), ORIGINAL_QUALITY
    if kind == "blur":
        return img.filter(ImageFilter.GaussianBlur(radius=4)), ORIGINAL_QUALITY
    raise ValueError(f"unknown transform {kind!r}")


def _jpeg(path: Path, img: Image.Image, quality: int) -> bytes:
    img.save(path, "JPEG", quality=quality)
    return path.read_bytes()


def build(folder: Path) -> Manifest:
    """Write the test set into ``folder`` (created if missing) and say what each file is."""
    folder.mkdir(parents=True, exist_ok=True)
    files: list[PhotoFile] = []
    originals: dict[str, bytes] = {}
    for source, img in source_photos().items():
        name = f"orig_{source}.jpg"
        originals[source] = _jpeg(folder / name, img, ORIGINAL_QUALITY)
        files.append(PhotoFile(name, source, "original"))
        for kind in TRANSFORMS:
            altered, quality = transform(img, kind)
            name = f"{kind}_{source}.jpg"
            _jpeg(folder / name, altered, quality)
            files.append(PhotoFile(name, source, kind))
    for source in list(originals)[:EXACT_COPIES]:
        name = f"copy_of_{source}.jpg"
        (folder / name).write_bytes(originals[source])
        files.append(PhotoFile(name, source, "copy"))
    first = originals[next(iter(originals))]
    (folder / "broken_truncated.jpg").write_bytes(first[: len(first) // 2])
    files.append(PhotoFile("broken_truncated.jpg", "", "truncated"))
    (folder / "broken_fake.jpg").write_bytes(b"This is a text file with a .jpg name, not a photo.\n" * 40)
    files.append(PhotoFile("broken_fake.jpg", "", "fake"))
    return Manifest(folder=folder, files=tuple(files))
