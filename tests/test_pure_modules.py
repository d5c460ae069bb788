"""The algorithms stay pure: these modules never import Django (see STYLE.md)."""

import subprocess
import sys

import pytest

PURE = [
    "annotation.answers.boxes",
    "annotation.answers.marks",
    "annotation.answers.spans",
    "annotation.curation",
    "annotation.image_privacy",
    "annotation.ingest",
    "annotation.limits",
    "annotation.queue",
    "annotation.redaction",
    "annotation.rulebook",
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
]


@pytest.mark.parametrize("module", PURE)
def test_pure_module_does_not_import_django(module):
    code = f"import sys, {module}; print(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
