"""The algorithms stay pure: these modules never import Django (see STYLE.md)."""

import subprocess
import sys

import pytest

PURE = ["annotation.rulebook", "annotation.ingest", "annotation.curation", "annotation.queue", "consensus.metrics", "consensus.aggregation", "consensus.policy", "consensus.quality",
        "annotation.rules.matchers", "annotation.rules.stats", "consensus.labelmodel", "consensus.calibration"]


@pytest.mark.parametrize("module", PURE)
def test_pure_module_does_not_import_django(module):
    code = f"import sys, {module}; print(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
