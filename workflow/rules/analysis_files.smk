# Helpers of the analysis rules (workflow/rules/analysis.smk): the planned outputs and the functions the
# rules call. Snakemake-specific (report()) and so kept out of the package:
# recall_distortion.analysis.layout plans the files, these functions turn the plan into rule files.
import re
from functools import partial

from recall_distortion.analysis.layout import (
    analysis_plan,
    analysis_targets as _analysis_targets,
    figure_outputs,
    forgetting_figure_outputs,
)

ANALYSIS_PLAN = analysis_plan(FAMILIES)
# Beyond α: the tables (one job) and the figures (one job each) of recall_distortion.analysis.forgetting
FORGETTING_TABLES = [o for o in ANALYSIS_PLAN.forgetting if o.directory == "tables"]


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


def figure_pattern(families, outputs=figure_outputs):
    """Regex matching exactly the planned figure stems (wildcard constraint of the figure rule); ``outputs``
    lists them (``forgetting_figure_outputs`` for the figures beyond α; none for a study of only tradeoff,
    iterative and structured families)."""
    stems = [re.escape(stem) for stem in outputs(families)]
    return (
        "|".join(stems) if stems else "(?!)"
    )  # no such figure: match nothing (an empty pattern matches all)


def figure_spec(families, wildcards, outputs=figure_outputs):
    """Params of the job drawing figure ``wildcards.figure``: its family and what to draw.

    Only the figure's own family goes into the params, so editing another family's config does not
    rerun it.
    """
    family, out = outputs(families)[wildcards.figure]
    return {
        "family": family,
        "kind": out.kind,
        "number": out.number,
        "method": out.method,
    }


def figure_family_name(families, wildcards, outputs=figure_outputs):
    """Report subcategory of a figure: its family's name."""
    return outputs(families)[wildcards.figure][0]["name"]


def figure_labels(families, wildcards, outputs=figure_outputs):
    """Report labels of a figure: its file stem and family."""
    return {
        "output": wildcards.figure,
        "family": figure_family_name(families, wildcards, outputs),
    }


def pie_image_data(families, wildcards):
    """The prepared data of the family's datasets, whose test images a PIE image grid shows; none for
    the other figures beyond α."""
    family, out = forgetting_figure_outputs(families)[wildcards.figure]
    if out.kind != "pie_images":
        return []
    datasets = dict.fromkeys(e["dataset"] for e in family["experiments"])
    return [f"{RESULTS}/data/{dataset}.npz" for dataset in datasets]


# analysis_targets(): every analysis output of the study, for rule all.
analysis_targets = partial(_analysis_targets, FAMILIES, RESULTS)
