# Helpers of the analysis rules (workflow/rules/analysis.smk): the planned outputs and the functions the
# rules call. Snakemake-specific (report()) and so kept out of the package:
# recall_distortion.analysis.layout plans the files, these functions turn the plan into rule files.
import re
from functools import partial

from recall_distortion.analysis.layout import (
    analysis_plan,
    analysis_targets as _analysis_targets,
    figure_outputs,
)

ANALYSIS_PLAN = analysis_plan(FAMILIES)


def rule_files(outputs, root, category, caption_dir="../report"):
    """Output paths of a rule producing ``outputs`` (planned ``Output``s); the file shown in the HTML
    report is wrapped in ``report()`` with the output kind's caption (``caption_dir`` relative to this file).
    """
    files = []
    for out in outputs:
        for name in out.files:
            path = f"{root}/{name}"
            if name == out.report_file:
                path = report(
                    path,
                    caption=f"{caption_dir}/{out.caption}",
                    category=category,
                    subcategory=out.family or "whole study",
                    labels={"output": out.stem, "family": out.family or "all"},
                )
            files.append(path)
    return files


def figure_pattern(families):
    """Regex matching exactly the planned figure stems (wildcard constraint of the figure rule)."""
    return "|".join(re.escape(stem) for stem in figure_outputs(families))


def figure_spec(families, wildcards):
    """Params of the job drawing figure ``wildcards.figure``: its family and what to draw.

    Only the figure's own family goes into the params, so editing another family's config does not
    rerun it.
    """
    family, out = figure_outputs(families)[wildcards.figure]
    return {"family": family, "kind": out.kind, "number": out.number, "method": out.method}


def figure_family_name(families, wildcards):
    """Report subcategory of a figure: its family's name."""
    return figure_outputs(families)[wildcards.figure][0]["name"]


def figure_labels(families, wildcards):
    """Report labels of a figure: its file stem and family."""
    return {"output": wildcards.figure, "family": figure_family_name(families, wildcards)}


# analysis_targets(): every analysis output of the study, for rule all.
analysis_targets = partial(_analysis_targets, FAMILIES, RESULTS)

