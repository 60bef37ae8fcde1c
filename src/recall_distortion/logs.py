"""Logging of a Snakemake job: the package's messages, Python warnings and a crash go to the rule's log file.

Every workflow script calls :func:`setup_log` first. It imports no torch, so the analysis jobs start
without it; the training stages add their torch settings in :func:`recall_distortion.stages.files.setup_job`.
"""

from __future__ import annotations

import logging
import os
import sys

FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


def setup_log(path: str | os.PathLike) -> None:
    """Route logging (INFO and above), Python warnings and an uncaught exception's traceback to ``path``."""
    logging.basicConfig(filename=path, level=logging.INFO, format=FORMAT, force=True)
    logging.captureWarnings(True)
    previous = sys.excepthook

    def log_exception(kind, value, traceback):
        logging.getLogger("recall_distortion").error("uncaught exception", exc_info=(kind, value, traceback))
        previous(kind, value, traceback)

    sys.excepthook = log_exception
