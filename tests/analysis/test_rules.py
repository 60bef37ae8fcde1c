"""The analysis rules' helpers (workflow/rules/analysis_files.smk) list the planned files and flag report files.

They live in the workflow, not the package (the package imports no Snakemake), so the test loads the
workflow with the default config through Snakemake's API and calls the helpers from its namespace.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from recall_distortion.analysis import expected_outputs
from recall_distortion.analysis.layout import analysis_plan, analysis_targets

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rules():
    """The namespace of the loaded workflow (its rule files' functions), default config."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import OutputSettings, ResourceSettings

    with SnakemakeApi(OutputSettings(quiet=True)) as api:
        workflow = api.workflow(resource_settings=ResourceSettings(), snakefile=REPO / "Snakefile", workdir=REPO)
        # no public accessor: the parsed workflow keeps the .smk files' globals here
        return SimpleNamespace(**workflow._workflow.globals)


def test_rule_files_flag_only_the_report_file(rules, families):
    from snakemake.io import is_flagged

    plan = analysis_plan(families)
    files = rules.rule_files(plan.tables, "results/s", "Tables")
    flagged = sorted(str(f) for f in files if is_flagged(f, "report"))
    assert flagged == sorted(f"results/s/tables/{o.stem}.html" for o in plan.tables)
    assert len(files) == 4 * len(plan.tables)
    figs = rules.rule_files(plan.figures["sizes"], "results/s", "Figures")
    assert all(str(f).endswith(".png") for f in figs if is_flagged(f, "report"))
    out = expected_outputs(families, "results/s")
    assert analysis_targets(families, "results/s") == (
        out["tables"] + [f for fs in out["figures"].values() for f in fs] + out["summary"] + out["forgetting"]
    )


def test_figure_rule_helpers(rules, families):
    pattern = re.compile(f"^(?:{rules.figure_pattern(families)})$")
    assert pattern.match("figure4_sizes_up") and pattern.match("figure13_tradeoff")
    assert not pattern.match("figure4_sizes_mp") and not pattern.match("figure1_sizes")
    spec = rules.figure_spec(families, SimpleNamespace(figure="figure8_sizes_up"))
    assert spec["family"]["name"] == "sizes" and (spec["kind"], spec["number"], spec["method"]) == ("scatter", 8, "up")
    labels = rules.figure_labels(families, SimpleNamespace(figure="figure1_methods"))
    assert labels == {"output": "figure1_methods", "family": "methods"}


def test_figure_rule_helpers_beyond_alpha(rules, families):
    from recall_distortion.analysis.layout import forgetting_figure_outputs

    pattern = re.compile(f"^(?:{rules.figure_pattern(families, forgetting_figure_outputs)})$")
    assert pattern.match("pie_images_tasks") and pattern.match("recall_change_methods")
    assert not pattern.match("pie_tasks") and not pattern.match("figure1_methods")
    spec = rules.figure_spec(families, SimpleNamespace(figure="confusion_sizes"), outputs=forgetting_figure_outputs)
    assert spec["family"]["name"] == "sizes" and spec["kind"] == "confusion_map"
    data = rules.pie_image_data(families, SimpleNamespace(figure="pie_images_tasks"))
    assert [p.split("/")[-1] for p in data] == ["mnist.npz", "cifar10.npz", "cifar100.npz"]
    assert rules.pie_image_data(families, SimpleNamespace(figure="confusion_tasks")) == []
