"""The import rules of DESIGN.md's "Code layout", checked by walking every module's syntax tree.

- pure modules import neither Django (nor DRF, Channels) nor an impure project module;
- web modules (views, api, urls, consumers, commands, tasks) → services and selectors → models and
  pure modules: models import no services, selectors or web module; selectors no services; services
  no web module;
- no module imports another module's ``_private`` names;
- ``consensus`` may import ``annotation``; ``annotation`` reaches ``consensus`` only through
  ``consensus.decisions.services`` (the vote path and the vote import).

Each rule has a test that plants a violation and sees it caught. A second check imports each pure
module in a fresh interpreter and asserts Django was not loaded, transitively.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("annotation", "consensus")

PURE = {
    "annotation.answers.boxes",
    "annotation.answers.choice",
    "annotation.answers.marks",
    "annotation.answers.spans",
    "annotation.curation.measures",
    "annotation.ingest.image_privacy",
    "annotation.ingest.readers",
    "annotation.ingest.redaction",
    "annotation.labeling.queue",
    "annotation.limits",
    "annotation.rulebook.document",
    "annotation.rules.matchers",
    "annotation.rules.stats",
    "consensus.aggregation",
    "consensus.calibration",
    "consensus.choice",
    "consensus.fusion",
    "consensus.labelmodel",
    "consensus.mark_agreement",
    "consensus.metrics",
    "consensus.policy",
    "consensus.quality",
    "consensus.reporting.charts",
}
FRAMEWORKS = ("django", "rest_framework", "channels", "drf_spectacular", "csp", "axes")
# The one door from annotation into consensus.
CONSENSUS_DOOR = "consensus.decisions.services"


def layer(module: str) -> str:
    parts = module.split(".")
    if module in PURE:
        return "pure"
    if {"views", "api", "management", "migrations", "templatetags"} & set(parts) or parts[-1] in {
        "urls",
        "consumers",
        "routing",
        "forms",
        "middleware",
        "admin",
    }:
        return "web"
    if parts[-1] in {"services", "transitions", "bulk"} or module == "annotation.imports.votes":
        return "services"
    if parts[-1] == "selectors" or parts[1:2] == ["reporting"] or module == "consensus.adapters":
        return "selectors"
    if parts[-1] == "models":
        return "models"
    return "support"  # exceptions, events, limits, accounts, tasks (what services enqueue), apps


FORBIDDEN = {
    "models": {"services", "selectors", "web"},
    "selectors": {"services", "web"},
    "services": {"web"},
}


def imports_of(source: str) -> list[tuple[str, list[str], int]]:
    """(module imported, names taken from it, line) for every import in ``source``."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.extend((a.name, [], node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.module, [a.name for a in node.names], node.lineno))
    return out


def project_module(name: str, modules: set[str]) -> str | None:
    """The project module ``name`` refers to (``annotation.views`` + ``projects`` → a module)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def violations(sources: dict[str, str]) -> list[str]:
    """Every broken rule in ``sources`` (module name → source text), one line each."""
    modules = set(sources)
    found = []
    for module, source in sorted(sources.items()):
        me = layer(module)
        for target, names, line in imports_of(source):
            where = f"{module}:{line} imports {target}"
            if target.split(".")[0] in FRAMEWORKS and me == "pure":
                found.append(f"{where}: a pure module imports a framework")
            if target.split(".")[0] not in APPS:
                continue
            # `from annotation.views import projects` names a module, not a private name
            submodules = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
            targets = submodules or [project_module(target, modules) or target]
            for tgt in targets:
                them = layer(tgt)
                if me == "pure" and them != "pure":
                    found.append(f"{where}: a pure module imports the impure {tgt}")
                if them in FORBIDDEN.get(me, ()):
                    found.append(f"{where}: {me} may not import {them} ({tgt})")
                if module.startswith("annotation.") and tgt.startswith("consensus.") and tgt != CONSENSUS_DOOR:
                    found.append(f"{where}: annotation reaches consensus only through {CONSENSUS_DOOR}")
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and f"{target}.{private[0]}" not in modules:
                found.append(f"{where}: takes private names {private}")
    return found


def project_sources() -> dict[str, str]:
    sources = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            sources[".".join(parts)] = path.read_text()
    return sources


def test_the_code_keeps_the_import_rules():
    assert violations(project_sources()) == []


def test_every_pure_module_exists():
    assert PURE <= set(project_sources())


@pytest.mark.parametrize(
    ("module", "planted", "rule"),
    [
        ("consensus.metrics", "from django.db import models", "a pure module imports a framework"),
        ("consensus.metrics", "from annotation.items.models import Item", "a pure module imports the impure"),
        ("annotation.items.models", "from annotation.items.transitions import items_exclude", "models may not import services"),
        ("annotation.items.selectors", "from annotation.projects import services", "selectors may not import services"),
        ("annotation.labeling.services", "from annotation.views import projects", "services may not import web"),
        ("consensus.decisions.services", "from annotation.labeling.services import _refuse_suspended", "takes private names"),
        ("annotation.labeling.services", "from consensus.review import services", "annotation reaches consensus only"),
        ("annotation.labeling.services", "from consensus.decisions.selectors import item_consensus", "annotation reaches consensus only"),
    ],
)
def test_a_planted_violation_is_caught(module, planted, rule):
    sources = project_sources()
    sources[module] = sources[module] + "\n" + planted + "\n"
    found = violations(sources)
    assert any(rule in v and module in v for v in found), found


def test_the_door_into_consensus_is_open():
    sources = project_sources()
    sources["annotation.labeling.services"] += "\nfrom consensus.decisions.services import item_decide\n"
    assert violations(sources) == []


@pytest.mark.parametrize("module", sorted(PURE))
def test_pure_module_does_not_load_django(module):
    code = f"import sys, {module}; print(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


def test_a_module_over_400_lines_says_why_in_its_docstring():
    long = []
    for module, source in project_sources().items():
        if source.count("\n") > 400 and "Why over 400 lines" not in (ast.get_docstring(ast.parse(source)) or ""):
            long.append(module)
    assert long == []
