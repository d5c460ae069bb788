"""python manage.py demo — a demo project of handwritten digits, with demo users.

The images are the 8×8 digits that ship inside scikit-learn (a registry package, so nothing is
downloaded), scaled up to 128×128 PNGs. Running it again changes nothing that exists.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from PIL import Image

from annotation.imports import services as imports
from annotation.projects import services as projects_services
from annotation.projects.models import Membership, Project, Role
from annotation.rulebook import services as rulebook_services
from annotation.voters.services import voter_for_member

SLUG = "digits"
PASSWORD = "quorum-demo"
USERS = [
    ("admin", Role.ADMIN),
    ("reviewer", Role.REVIEWER),
    ("annotator1", Role.ANNOTATOR),
    ("annotator2", Role.ANNOTATOR),
    ("annotator3", Role.ANNOTATOR),
]
NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
SHAPES = {
    0: "a closed oval, no lines inside",
    1: "a single stroke, sometimes with a flag at the top and a base",
    2: "a curve at the top, a diagonal, and a flat base",
    3: "two bumps open to the left, stacked",
    4: "a vertical and a crossing horizontal, open or closed at the top",
    5: "a flat top, a short vertical, and a belly open to the left",
    6: "a curve coming down into a closed loop at the bottom",
    7: "a flat top and a long diagonal, sometimes with a bar across",
    8: "two closed loops stacked",
    9: "a closed loop at the top and a tail going down",
}
CONFUSED = {0: 6, 1: 7, 2: 7, 3: 8, 4: 9, 5: 6, 6: 5, 7: 1, 8: 3, 9: 4}
DECISION_PATH = [
    {"id": "loops", "question": "Does the digit have a closed loop?", "yes": "two-loops", "no": "straight"},
    {"id": "two-loops", "question": "Are there two loops, one above the other?", "yes": "eight", "no": "loop-top"},
    {"id": "loop-top", "question": "Is the loop at the top, with a tail going down?", "yes": "nine", "no": "loop-bottom"},
    {"id": "loop-bottom", "question": "Is the loop at the bottom, with a stroke rising from it?", "yes": "six", "no": "zero"},
    {"id": "straight", "question": "Is it mostly one upright stroke?", "yes": "one", "no": "flat-top"},
    {"id": "flat-top", "question": "Does it start with a flat stroke at the top?", "yes": "diagonal", "no": "bumps"},
    {"id": "diagonal", "question": "Does a long diagonal go down from the flat top?", "yes": "seven", "no": "five"},
    {"id": "bumps", "question": "Are there two bumps open to the left?", "yes": "three", "no": "base"},
    {"id": "base", "question": "Does it end with a flat base line?", "yes": "two", "no": "four"},
]
GUIDELINES = """\
# Handwritten digits

Each image is **one handwritten digit**, scanned at 8×8 pixels and scaled up, so strokes look blocky.
Pick the digit the writer *meant*.

1. Look at the whole shape first, then at the closed loops.
2. Compare with the examples of each label.
3. If two digits are equally likely, mark the item **unsure** and pick the better one.
"""


def _png(pixels: np.ndarray) -> bytes:
    # 0..16 grey levels, ink dark on white paper, scaled up 16× with smoothing.
    grey = (255 - pixels * 255 / 16).astype(np.uint8)
    img = Image.fromarray(grey, mode="L").resize((128, 128), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


class Command(BaseCommand):
    help = "Create the demo project (handwritten digits) and demo users, and print their logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--items", type=int, default=400, help="how many digits to import")
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="where Quorum will be served (printed)")

    def handle(self, *args: Any, items: int, url: str, **options: Any) -> None:
        from sklearn.datasets import load_digits

        users = self._users()
        project = Project.objects.filter(slug=SLUG).first()
        if project is None:
            project = self._project(users["admin"], load_digits(), items)
        else:
            self.stdout.write(f"The demo project '{SLUG}' exists already; left as it is.")
        for username, role in USERS:
            voter = voter_for_member(project=project, user=users[username])
            Membership.objects.get_or_create(project=project, user=users[username], defaults={"role": role, "voter": voter})
        self.stdout.write(self.style.SUCCESS(f"\nQuorum demo — open {url} and log in as:"))
        for username, role in USERS:
            self.stdout.write(f"  {username:<11} / {PASSWORD}   ({role})")

    def _users(self) -> dict[str, Any]:
        user_model = get_user_model()
        users = {}
        for username, _role in USERS:
            user = user_model.objects.filter(username=username).first()
            if user is None:
                user = user_model.objects.create_user(username=username, password=PASSWORD)
            users[username] = user
        return users

    @transaction.atomic
    def _project(self, admin: Any, digits: Any, count: int) -> Project:
        project = projects_services.project_create(
            actor=admin,
            name="Handwritten digits",
            slug=SLUG,
            exact_slug=True,
            description="Which digit, 0 to 9, did the writer mean? Real scans from the UCI digits set.",
            item_kind="image",
            question_type="single",
            # The scans are 8×8 pixels scaled up: soft by nature (every one would be flagged
            # blurry), and different writers' digits share their coarse layout, so only copies
            # within 4 bits count as near-duplicates here.
            blur_threshold=0.0,
            near_duplicate_distance=4,
        )
        rng = np.random.default_rng(7)
        order = rng.permutation(len(digits.target))[:count]
        # Examples for the rulebook: the first two of each digit, not themselves in the queue.
        examples: dict[int, list[str]] = {d: [] for d in range(10)}
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(tmp) / "digits.zip"
            manifest = []
            with zipfile.ZipFile(archive, "w") as zf:
                for n, idx in enumerate(order):
                    label = int(digits.target[idx])
                    ext_id = f"digit-{idx:04d}"
                    zf.writestr(f"images/{ext_id}.png", _png(digits.images[idx]))
                    if len(examples[label]) < 2:
                        examples[label].append(ext_id)
                    row: dict[str, Any] = {
                        "id": ext_id,
                        "image": f"images/{ext_id}.png",
                        "metadata": {"source": "uci-digits", "index": int(idx), "batch": f"b{n // 100 + 1}"},
                    }
                    if n % 20 == 0:  # 5% gold, as honeypots
                        row["gold"] = NAMES[label]
                    manifest.append(json.dumps(row))
                zf.writestr("items.jsonl", "\n".join(manifest) + "\n")
            job = imports.import_create(actor=admin, project=project, name="digits.zip", path=archive)
            job = imports.import_run(job_id=job.pk)
        labels = [
            {
                "key": NAMES[d],
                "name": f"{d} ({NAMES[d]})",
                "definition": f"The digit {d}: {SHAPES[d]}.",
                "fits": f"Any way of writing {d}, however sloppy, if {d} is what the writer meant.",
                "does_not_fit": f"A {CONFUSED[d]} that happens to look like a {d}: check the loops and strokes.",
                "fit_examples": examples[d][:1],
                "nonfit_examples": examples[CONFUSED[d]][1:2],
                "hotkey": str(d),
            }
            for d in range(10)
        ]
        rulebook_services.rulebook_draft_save(
            actor=admin, project=project, guidelines=GUIDELINES,
            unclear_instructions="Mark it unsure and choose the more likely digit; never skip a readable digit.",
            do_not_label="Blank or torn scans, and images with more than one digit: claim 'does not fit' with a reason.",
            labels=labels, decision_path=DECISION_PATH, change_note="First version.",
        )  # fmt: skip
        rulebook_services.rulebook_publish(actor=admin, project=project)
        self.stdout.write(f"Demo project '{SLUG}': {job.created} digit images imported, rulebook v1 published.")
        return project
