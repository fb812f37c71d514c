"""`make test` must fail loudly when pytest collects nothing (pytest exits 5)."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_make_test_fails_when_no_test_is_collected():
    result = subprocess.run(
        ["make", "-s", "run-tests", f"BIN={os.path.dirname(sys.executable)}", "PYTEST_WORKERS=0",  # one process: faster
         "PYTEST_ARGS=-p no:cacheprovider tests/test_make.py -k no_test_has_this_name"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode != 0
    assert "collected no tests" in result.stdout


def test_ci_runs_make_test():
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        assert "make test" in f.read()
