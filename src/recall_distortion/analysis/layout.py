"""Which tables and figures a study's families call for, what their files are named, and labels.

This module is imported by the Snakefile when it builds the DAG, so it imports neither pandas nor
plotting or statistics libraries (nor Snakemake: the rules' helpers live in workflow/rules/analysis.smk).
:func:`analysis_plan` is the single source of truth for the output files: the workflow's rules list
them through :func:`expected_outputs` and :func:`figure_outputs`, and the table, figure and summary
builders iterate over the same plan, so rules and package cannot disagree.

A family (config ``families``, paper section 6) is a dict ``{name, kind, experiments, methods,
ratios, comparisons?}``; its *groups* are the (dataset, model, method) triples experiments x methods,
and its *cells* are groups x ratios. The mapping of kinds to the paper's tables and figures:

========== ================================= ================================================
kind       figures                           tables
========== ================================= ================================================
method     1 (boxplots), 5 (scatter), 9 (CI) 4 (ratio tests), 8 (method pairs, per ratio)
model      per method: 2/6/10 (4/8/12 = UP)  per method: 1/5 (2/6 = UP); 9 if >= 2 methods
dataset    per method: 3, 7, 11              per method: 3 (ratio tests), 7; 9 if >= 2 methods
tradeoff   13 (accuracy and alpha vs ratio)  data of Figure 13
iterative  accuracy and alpha vs ratio       12 (LTH: accuracy, α, 99% CI per level, Appendix H)
structured accuracy and alpha vs ratio       13 (CHIP/L1: the same per ratio, achieved ratio too)
========== ================================= ================================================

Beyond α (:func:`forgetting_plan`), every family of kind method, model or dataset also gets the tables
``pie_<f>``, ``class_tests_<f>``, ``absorption_<f>``, ``disparity_<f>`` and the figures
``pie_images_<f>``, ``confusion_<f>``, ``recall_change_<f>`` (:mod:`.forgetting`), read from the
predictions and recall tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TABLE_FORMATS = ("csv", "md", "tex", "html")
FIGURE_FORMATS = ("png", "pdf")
SUMMARY_FILES = ("summary.md", "summary.html")

# The paper's figure / table numbers per family kind (section 6.2, appendices A-C, E).
# Model families: UP uses the numbers of the paper's UP figures/tables, every other method MP's.
_MODEL_NUMBERS = {
    "up": {"boxplot": 4, "scatter": 8, "ci_plot": 12, "ratio_tests": 2, "between_tests": 6},
    None: {"boxplot": 2, "scatter": 6, "ci_plot": 10, "ratio_tests": 1, "between_tests": 5},
}
_DATASET_NUMBERS = {"boxplot": 3, "scatter": 7, "ci_plot": 11, "ratio_tests": 3, "between_tests": 7}
# Appendix H: Table 12 (LTH, kind iterative) and Table 13 (CHIP, kind structured).
MODERN_TABLE_NUMBERS = {"iterative": 12, "structured": 13}
_METHOD_NUMBERS = {"boxplot": 1, "scatter": 5, "ci_plot": 9, "ratio_tests": 4, "method_pairs": 8}

# Report captions (workflow/report/<caption>) per output kind.
CAPTIONS = {
    "ratio_tests": "ratio_tests.rst",
    "between_tests": "between_tests.rst",
    "method_pairs": "method_pairs.rst",
    "alpha_ci": "alpha_ci.rst",
    "dense_accuracy": "dense_accuracy.rst",
    "recall_variance": "recall_variance.rst",
    "tradeoff_table": "tradeoff_table.rst",
    "modern_table": "modern_table.rst",
    # one caption for every figure, chosen inside by the job's params.figure.kind (Jinja)
    "boxplot": "figures.rst",
    "scatter": "figures.rst",
    "ci_plot": "figures.rst",
    "tradeoff": "figures.rst",
    "modern": "figures.rst",
    "summary": "summary.rst",
    # beyond α: what pruning forgets (recall_distortion.analysis.forgetting)
    "pie_table": "pie.rst",
    "class_tests": "class_tests.rst",
    "absorption": "absorption.rst",
    "disparity": "disparity.rst",
    # one caption for the three figures, chosen by params.figure.kind as for the paper's figures
    "pie_images": "forgetting_figures.rst",
    "confusion_map": "forgetting_figures.rst",
    "recall_change": "forgetting_figures.rst",
}

_DATASET_LABELS = {
    "mnist": "MNIST",
    "fashion_mnist": "Fashion",
    "cifar10": "CIFAR-10",
    "cifar100": "CIFAR-100",
    "digits": "Digits",
}
_MODEL_LABELS = {"lenet5": "LeNet5", "lenet300100": "LeNet-300-100"}


def dataset_label(name: str) -> str:
    """Display name of a dataset as in the paper's tables (``cifar10`` -> ``CIFAR-10``)."""
    return _DATASET_LABELS.get(name, name)


def model_label(name: str) -> str:
    """Display name of an architecture (``resnet56`` -> ``ResNet-56``, ``lenet5`` -> ``LeNet5``)."""
    if name in _MODEL_LABELS:
        return _MODEL_LABELS[name]
    match = re.fullmatch(r"resnet(\d+)", name)
    return f"ResNet-{match.group(1)}" if match else name


def method_label(name: str) -> str:
    """Methods are upper case in labels (``mp`` -> ``MP``)."""
    return name.upper()


def ratio_label(ratio: float) -> str:
    """``2.0`` -> ``"2"``, ``2.5`` -> ``"2.5"``."""
    return f"{float(ratio):g}"


def ratio_key(ratio: float) -> float:
    """Ratios from the config (int) and from parquet (float) compare equal through this key."""
    return round(float(ratio), 9)


@dataclass(frozen=True)
class Group:
    """One (dataset, model, method) of a family, with the label it gets in that family's outputs."""

    dataset: str
    model: str
    method: str
    label: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.dataset, self.model, self.method)


@dataclass(frozen=True)
class Output:
    """One table or figure: ``<directory>/<stem>.<format>`` for each format of its directory."""

    stem: str
    kind: str  # a key of CAPTIONS
    number: int | None  # the paper's table/figure number, None for tables the paper has no number for
    family: str | None  # None: study-wide
    method: str | None = None  # per-method outputs of model/dataset families

    @property
    def directory(self) -> str:
        return "figures" if self.kind in FIGURE_KINDS else "tables"

    @property
    def files(self) -> list[str]:
        formats = FIGURE_FORMATS if self.directory == "figures" else TABLE_FORMATS
        return [f"{self.directory}/{self.stem}.{fmt}" for fmt in formats]

    @property
    def report_file(self) -> str:
        """The file shown in the Snakemake HTML report (PNG figures, HTML tables)."""
        return self.files[0] if self.directory == "figures" else f"tables/{self.stem}.html"

    @property
    def caption(self) -> str:
        return CAPTIONS[self.kind]


FIGURE_KINDS = frozenset({"boxplot", "scatter", "ci_plot", "tradeoff", "modern"}) | {"pie_images", "confusion_map", "recall_change"}
# Family kinds whose cells the forgetting analyses (PIE, class tests, confusion, disparity) cover.
FORGETTING_FAMILY_KINDS = ("method", "model", "dataset")


@dataclass
class Plan:
    """Every output of the analysis, and why some comparisons have no output."""

    tables: list[Output] = field(default_factory=list)
    figures: dict[str, list[Output]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    forgetting: list[Output] = field(default_factory=list)  # beyond α: tables and figures (forgetting_plan)

    def all_outputs(self) -> list[Output]:
        return self.tables + [o for outs in self.figures.values() for o in outs] + self.forgetting


def comparisons(family: dict) -> list[tuple[str, str]]:
    """Dataset pairs (D_i, D_j) of a dataset family (section 7.3): configured, else consecutive."""
    if family.get("comparisons"):
        return [(a, b) for a, b in family["comparisons"]]
    datasets = _unique(e["dataset"] for e in family["experiments"])
    return list(zip(datasets[:-1], datasets[1:]))


def sorted_ratios(family: dict) -> list[float]:
    """The family's ratios ascending: 'consecutive ratios' t_i < t_{i+1} of section 7.1."""
    return sorted(float(r) for r in family["ratios"])


def groups(family: dict, method: str | None = None) -> list[Group]:
    """The family's (dataset, model, method) triples, experiments x methods, in config order.

    Labels name what the family varies: the method (kind method), the model (kind model), the dataset
    (kind dataset), everything (kind tradeoff); a dimension that also varies inside the family is
    prefixed so labels stay unique.
    """
    kind = family["kind"]
    experiments = family["experiments"]
    methods = [method] if method is not None else list(family["methods"])
    datasets = _unique(e["dataset"] for e in experiments)
    out = []
    for exp in experiments:
        dataset, model = exp["dataset"], exp["model"]
        for pruning in methods:
            if kind == "method":
                label = method_label(pruning)
                if len(experiments) > 1:
                    label = f"{dataset_label(dataset)} @ {model_label(model)}: {label}"
            elif kind == "model":
                label = model_label(model) if len(datasets) == 1 else f"{dataset_label(dataset)} @ {model_label(model)}"
            elif kind == "dataset":
                dup = sum(e["dataset"] == dataset for e in experiments) > 1
                label = f"{dataset_label(dataset)} @ {model_label(model)}" if dup else dataset_label(dataset)
            else:
                label = f"{dataset_label(dataset)} @ {model_label(model)}, {method_label(pruning)}"
            if kind in ("model", "dataset") and method is None and len(family["methods"]) > 1:
                label = f"{label}, {method_label(pruning)}"
            out.append(Group(dataset, model, pruning, label))
    return out


def study_groups(families: list[dict]) -> list[tuple[str, str, str]]:
    """Every (dataset, model, method) of the study once, in order of first appearance."""
    return _unique(
        (e["dataset"], e["model"], method) for f in families for e in f["experiments"] for method in f["methods"]
    )


def study_cells(families: list[dict]) -> list[tuple[str, str, str, float]]:
    """Every (dataset, model, method, ratio) of the study once: the rows of ``alpha_ci``.

    Groups in order of first appearance; ratios ascending within each group.
    """
    ratios: dict[tuple[str, str, str], set[float]] = {}
    for f in families:
        for e in f["experiments"]:
            for method in f["methods"]:
                ratios.setdefault((e["dataset"], e["model"], method), set()).update(float(r) for r in f["ratios"])
    return [(*series, ratio) for series in study_groups(families) for ratio in sorted(ratios[series])]


def family_plan(family: dict) -> tuple[list[Output], list[Output], list[str]]:
    """(tables, figures, notes) of one family; notes say which comparison has no table and why."""
    name, kind = family["name"], family["kind"]
    methods = list(family["methods"])
    experiments = family["experiments"]
    n_ratios = len(family["ratios"])
    tables: list[Output] = []
    figures: list[Output] = []
    notes: list[str] = []
    no_ratio_tests = f"family '{name}' has one ratio: no ratio tests (Tables 1-4 need two consecutive ratios)"

    if kind == "method":
        n = _METHOD_NUMBERS
        figures += [Output(f"figure{n[k]}_{name}", k, n[k], name) for k in ("boxplot", "scatter", "ci_plot")]
        if n_ratios > 1:
            tables.append(Output(f"table{n['ratio_tests']}_{name}", "ratio_tests", n["ratio_tests"], name))
        else:
            notes.append(no_ratio_tests)
        if len(methods) > 1:
            tables.append(Output(f"table{n['method_pairs']}_{name}", "method_pairs", n["method_pairs"], name))
        else:
            notes.append(f"family '{name}' has one method ({method_label(methods[0])}): no Table 8 (method pairs)")
    elif kind in ("model", "dataset"):
        if kind == "model":
            n_between = len(experiments) - 1
            between_note = f"family '{name}' has one model: no Tables 5/6 (model-size tests)"
        else:
            n_between = len(comparisons(family))
            between_note = f"family '{name}' has one dataset: no Table 7 (dataset tests)"
        for p in methods:
            n = _MODEL_NUMBERS.get(p, _MODEL_NUMBERS[None]) if kind == "model" else _DATASET_NUMBERS
            figures += [
                Output(f"figure{n[k]}_{name}_{p}", k, n[k], name, p) for k in ("boxplot", "scatter", "ci_plot")
            ]
            if n_ratios > 1:
                tables.append(Output(f"table{n['ratio_tests']}_{name}_{p}", "ratio_tests", n["ratio_tests"], name, p))
            if n_between > 0:
                tables.append(
                    Output(f"table{n['between_tests']}_{name}_{p}", "between_tests", n["between_tests"], name, p)
                )
        if n_ratios <= 1:
            notes.append(no_ratio_tests)
        if n_between == 0:
            notes.append(between_note)
        if len(methods) > 1:
            tables.append(Output(f"table9_{name}", "method_pairs", 9, name))
        else:
            notes.append(
                f"family '{name}' has one method ({method_label(methods[0])}): no Table 9 (method pairs per "
                f"{'model' if kind == 'model' else 'dataset'})"
            )
    elif kind == "tradeoff":
        figures.append(Output(f"figure13_{name}", "tradeoff", 13, name))
        tables.append(Output(f"figure13_{name}", "tradeoff_table", 13, name))
    elif kind in MODERN_TABLE_NUMBERS:
        number = MODERN_TABLE_NUMBERS[kind]
        figures.append(Output(f"accuracy_alpha_{name}", "modern", None, name))
        tables.append(Output(f"table{number}_{name}", "modern_table", number, name))
    else:
        raise ValueError(f"family '{name}': unknown kind {kind!r}")
    return tables, figures, notes


def forgetting_plan(family: dict) -> list[Output]:
    """The family's outputs beyond α, read from the predictions and recall tables: PIE (Hooker et al.
    2019, section 3) as a table and an image grid, per-class population tests, the confusion change as
    a heatmap and the classes absorbing pruning's errors, and per-class recall disparity (Tran et al.)
    as a table and a figure. Families of kind method, model and dataset; none for tradeoff."""
    if family["kind"] not in FORGETTING_FAMILY_KINDS:
        return []
    name = family["name"]
    kinds = {
        "pie": "pie_table", "pie_images": "pie_images", "class_tests": "class_tests", "confusion": "confusion_map",
        "absorption": "absorption", "disparity": "disparity", "recall_change": "recall_change",
    }
    return [Output(f"{prefix}_{name}", kind, None, name) for prefix, kind in kinds.items()]


def analysis_plan(families: list[dict]) -> Plan:
    """All tables and figures of a study: per family, then the study-wide alpha_ci, Tables 10 and 11."""
    plan = Plan()
    for family in families:
        tables, figures, notes = family_plan(family)
        plan.tables += tables
        plan.figures[family["name"]] = figures
        plan.notes += notes
        plan.forgetting += forgetting_plan(family)
    plan.tables += [
        Output("alpha_ci", "alpha_ci", None, None),
        Output("table10", "dense_accuracy", 10, None),
        Output("table11", "recall_variance", 11, None),
    ]
    return plan


def expected_outputs(families: list[dict], root: str = "") -> dict:
    """Output files of the analysis, relative to ``root`` (the study's results folder).

    ``{"tables": [...], "figures": {family: [...]}, "summary": [...], "forgetting": [...]}``; tables in
    csv, md, tex and html, figures in png and pdf; ``forgetting`` the tables and figures beyond α.
    """
    prefix = f"{root.rstrip('/')}/" if root else ""
    plan = analysis_plan(families)
    return {
        "tables": [prefix + f for o in plan.tables for f in o.files],
        "figures": {fam: [prefix + f for o in outs for f in o.files] for fam, outs in plan.figures.items()},
        "summary": [prefix + f for f in SUMMARY_FILES],
        "forgetting": [prefix + f for o in plan.forgetting for f in o.files],
    }


def analysis_targets(families: list[dict], root: str) -> list[str]:
    """Every analysis output of a study as one list (for ``rule all``): tables, figures, summary, beyond α."""
    outputs = expected_outputs(families, root)
    return (
        outputs["tables"] + [f for files in outputs["figures"].values() for f in files] + outputs["summary"]
        + outputs["forgetting"]
    )


def forgetting_figure_outputs(families: list[dict]) -> dict[str, tuple[dict, Output]]:
    """Every planned figure beyond α by stem: ``{stem: (family, output)}``."""
    by_name = {f["name"]: f for f in families}
    return {o.stem: (by_name[o.family], o) for o in analysis_plan(families).forgetting if o.directory == "figures"}


def figure_outputs(families: list[dict]) -> dict[str, tuple[dict, Output]]:
    """Every planned figure by stem: ``{stem: (family, output)}``."""
    plan = analysis_plan(families)
    by_name = {f["name"]: f for f in families}
    return {o.stem: (by_name[name], o) for name, outs in plan.figures.items() for o in outs}


def _unique(items) -> list:
    seen: dict = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
