"""A job's log file gets the package's messages, Python warnings and an uncaught exception, without torch."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import logging, sys, warnings
from recall_distortion.logs import setup_log

setup_log(sys.argv[1])
logging.getLogger("recall_distortion.analysis.tables").info("writing table4")
logging.getLogger("recall_distortion").debug("not at INFO")
warnings.warn("a pandas warning")
assert "torch" not in sys.modules
raise RuntimeError("job failed")
"""


def test_setup_log_routes_messages_warnings_and_the_crash(tmp_path):
    log = tmp_path / "job.log"
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(log)], capture_output=True, text=True)
    assert run.returncode == 1 and "RuntimeError: job failed" in run.stderr  # still reported on stderr
    text = log.read_text()
    assert "recall_distortion.analysis.tables INFO writing table4" in text
    assert "not at INFO" not in text
    assert "py.warnings WARNING" in text and "a pandas warning" in text
    assert "recall_distortion ERROR uncaught exception" in text and "RuntimeError: job failed" in text
