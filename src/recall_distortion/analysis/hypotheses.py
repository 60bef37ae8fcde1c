"""The hypothesis tests of a family (section 7, Appendix A): one long DataFrame per table.

- :func:`ratio_tests`        Tables 1-4: paired one-sided tests between consecutive ratios (7.1)
- :func:`between_tests`      Tables 5-7: independent one-sided tests between models / datasets (7.2-7.3)
- :func:`method_pair_tests`  Tables 8-9: paired two-sided tests between pruning methods (7.4)
- :func:`family_tests`       the tests of one planned table (:class:`~recall_distortion.analysis.layout.Output`)

Every builder takes the paper's table number from the plan (:mod:`.layout`) and runs its t-tests
through :func:`run_tests`, which applies Bonferroni within a scope: by column (Tables 1-8) or over
all rows at once (Table 9) (section 6.2). The t-tests and the correction are :mod:`.stats`'s.

Columns (:data:`TEST_COLUMNS`): ``table, family, row, column`` (where the p-value sits in the
paper-style table), the two compared cells ``dataset_a, model_a, method_a, ratio_a`` / ``..._b``,
``alternative`` (H_a for a - b), ``paired``, ``n_a, n_b`` (values used; pairs for paired tests),
``mean_a, mean_b``, ``t, dof, p_value`` (uncorrected), ``bonferroni_factor`` (the Bonferroni
multiplier: the number of tests in the scope), ``p_bonferroni``, ``note`` (why a row was not
tested, or seeds left out for a NaN α) and ``collapsed`` (the test involves a collapsed cell,
:func:`.cells.collapsed_cells`: shown and corrected like every test, but the summary draws no verdict
from it).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from recall_distortion.analysis import cells, layout, stats
from recall_distortion.analysis.layout import Output, dataset_label, method_label, model_label, ratio_label

TEST_COLUMNS = [
    "table",
    "family",
    "row",
    "column",
    "dataset_a",
    "model_a",
    "method_a",
    "ratio_a",
    "dataset_b",
    "model_b",
    "method_b",
    "ratio_b",
    "alternative",
    "paired",
    "n_a",
    "n_b",
    "mean_a",
    "mean_b",
    "t",
    "dof",
    "p_value",
    "bonferroni_factor",
    "p_bonferroni",
    "note",
    "collapsed",
]
CORRECTIONS = ("column", "all")  # Bonferroni scopes: each column of the table, or every row at once


def run_tests(
    by_cell: dict,
    specs: list[dict],
    *,
    paired: bool,
    alternative: str,
    correction: str,
    table: int,
    family: str,
    collapsed: frozenset,
) -> pd.DataFrame:
    """Run one t-test per spec and Bonferroni-correct by ``"column"`` or over ``"all"`` rows (6.2).

    ``by_cell`` is :func:`.cells.cell_values`. A spec is ``{"row", "column", "a": cell, "b": cell}``
    with a cell ``(dataset, model, method, ratio)``; independent specs may pool a list of cells per
    side (a dataset listed with two models). Untested rows (NaN p) count in the multiplier. A row's
    ``collapsed`` is True when any of its cells is in ``collapsed`` (:func:`.cells.collapsed_cells`);
    it changes no number.
    """
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {CORRECTIONS}, got {correction!r}")
    out = []
    for spec in specs:
        sides = [spec["a"], spec["b"]] if paired else spec["a"] + spec["b"]
        involved = any((*cell[:3], layout.ratio_key(cell[3])) in collapsed for cell in sides)
        if paired:
            first_a, first_b = spec["a"], spec["b"]
            res = stats.paired_ttest(cells.values(by_cell, *first_a), cells.values(by_cell, *first_b), alternative)
        else:
            first_a, first_b = spec["a"][0], spec["b"][0]
            res = stats.independent_ttest(
                np.concatenate([cells.values(by_cell, *cell).to_numpy() for cell in spec["a"]]),
                np.concatenate([cells.values(by_cell, *cell).to_numpy() for cell in spec["b"]]),
                alternative,
            )
        out.append(
            {
                "table": table,
                "family": family,
                "row": spec["row"],
                "column": spec["column"],
                **_cell_columns(first_a, "a"),
                **_cell_columns(first_b, "b"),
                "alternative": alternative,
                "paired": paired,
                "n_a": res.n_a,
                "n_b": res.n_b,
                "mean_a": res.mean_a,
                "mean_b": res.mean_b,
                "t": res.t,
                "dof": res.dof,
                "p_value": res.p,
                "note": res.note,
                "collapsed": involved,
            }
        )
    frame = pd.DataFrame(out, columns=[c for c in TEST_COLUMNS if c not in ("bonferroni_factor", "p_bonferroni")])
    if frame.empty:
        return pd.DataFrame(columns=TEST_COLUMNS)
    scopes = frame.groupby("column", sort=False).groups.values() if correction == "column" else [frame.index]
    for index in scopes:
        frame.loc[index, "bonferroni_factor"] = len(index)
        frame.loc[index, "p_bonferroni"] = stats.bonferroni(frame.loc[index, "p_value"].to_numpy())
    frame["bonferroni_factor"] = frame["bonferroni_factor"].astype("int64")
    frame["collapsed"] = frame["collapsed"].astype(bool)
    return frame[TEST_COLUMNS]


def _cell_columns(cell: tuple, side: str) -> dict:
    dataset, model, method, ratio = cell
    return {f"dataset_{side}": dataset, f"model_{side}": model, f"method_{side}": method, f"ratio_{side}": float(ratio)}


def ratio_tests(
    alpha: pd.DataFrame, family: dict, method: str | None, number: int, *, max_collapsed_share: float
) -> pd.DataFrame:
    """Tables 1-4 (section 7.1): one-sided paired tests between consecutive ratios t_i < t_{i+1}.

    H_0: E[α_{t_i}] >= E[α_{t_{i+1}}] vs H_a: E[α_{t_i}] < E[α_{t_{i+1}}] for each group of the family
    (each method of a method family; each model / dataset of a model / dataset family pruned with
    ``method``), paired by seed. Rows ``"t_i vs t_{i+1}"``, columns the groups; Bonferroni by column.
    """
    ratios = layout.sorted_ratios(family)
    specs = [
        {"row": f"{ratio_label(a)} vs {ratio_label(b)}", "column": g.label, "a": (*g.key, a), "b": (*g.key, b)}
        for g in layout.groups(family, method)
        for a, b in zip(ratios[:-1], ratios[1:])
    ]
    return run_tests(
        cells.cell_values(alpha), specs, paired=True, alternative="less", correction="column", table=number,
        family=family["name"], collapsed=cells.collapsed_cells(alpha, max_collapsed_share),
    )


def between_tests(
    alpha: pd.DataFrame, family: dict, method: str, number: int, *, max_collapsed_share: float
) -> pd.DataFrame:
    """Tables 5-7 (sections 7.2-7.3): one-sided independent Student tests per ratio.

    Model families compare consecutive architectures in listed order, H_a: E[α_t^{M_i}] > E[α_t^{M_{i+1}}]
    (smaller model, more intensification); dataset families compare each (D_i, D_j) of
    ``comparisons`` (default consecutive datasets), H_a: E[α_t^{D_i}] < E[α_t^{D_j}] (more complex
    task, more intensification). Rows the pairs, columns the ratios; Bonferroni by column.
    """
    ratios = layout.sorted_ratios(family)
    by_experiment = {(g.dataset, g.model): g for g in layout.groups(family, method)}
    if family["kind"] == "model":
        experiments = list(by_experiment.values())
        pairs = [([a], [b]) for a, b in zip(experiments[:-1], experiments[1:])]
        alternative = "greater"
    elif family["kind"] == "dataset":
        pairs = [
            (
                [g for g in by_experiment.values() if g.dataset == dataset_a],
                [g for g in by_experiment.values() if g.dataset == dataset_b],
            )
            for dataset_a, dataset_b in layout.comparisons(family)
        ]
        alternative = "less"
    else:
        raise ValueError(f"between_tests: family '{family['name']}' is of kind {family['kind']}, not model/dataset")
    specs = []
    for a_groups, b_groups in pairs:
        if not a_groups or not b_groups:
            raise ValueError(f"family '{family['name']}': a compared dataset has no experiment")
        label = f"{_join(a_groups)} vs {_join(b_groups)}"
        for ratio in ratios:
            specs.append(
                {
                    "row": label,
                    "column": f"t = {ratio_label(ratio)}",
                    "a": [(*g.key, ratio) for g in a_groups],
                    "b": [(*g.key, ratio) for g in b_groups],
                }
            )
    return run_tests(
        cells.cell_values(alpha), specs, paired=False, alternative=alternative, correction="column", table=number,
        family=family["name"], collapsed=cells.collapsed_cells(alpha, max_collapsed_share),
    )


def method_pair_tests(alpha: pd.DataFrame, family: dict, number: int, *, max_collapsed_share: float) -> pd.DataFrame:
    """Tables 8-9 (section 7.4): two-sided paired tests between every pair of the family's methods.

    Method family (Table 8): rows the method pairs (per experiment if several), columns the ratios,
    Bonferroni by column. Model / dataset family (Table 9): rows the ratios (per pair if several),
    columns the models / datasets, Bonferroni over all cells at once (25 in the paper).
    """
    ratios = layout.sorted_ratios(family)
    pairs = list(itertools.combinations(family["methods"], 2))
    experiments = family["experiments"]
    specs = []
    if family["kind"] == "method":
        for e in experiments:
            prefix = f"{dataset_label(e['dataset'])} @ {model_label(e['model'])}: " if len(experiments) > 1 else ""
            for a, b in pairs:
                for ratio in ratios:
                    specs.append(
                        {
                            "row": f"{prefix}{method_label(a)} vs {method_label(b)}",
                            "column": f"t = {ratio_label(ratio)}",
                            "a": (e["dataset"], e["model"], a, ratio),
                            "b": (e["dataset"], e["model"], b, ratio),
                        }
                    )
        correction = "column"
    elif family["kind"] in ("model", "dataset"):
        labels = [g.label for g in layout.groups(family, family["methods"][0])]
        for a, b in pairs:
            prefix = f"{method_label(a)} vs {method_label(b)}, t = " if len(pairs) > 1 else ""
            for ratio in ratios:
                for e, label in zip(experiments, labels):
                    specs.append(
                        {
                            "row": f"{prefix}{ratio_label(ratio)}",
                            "column": label,
                            "a": (e["dataset"], e["model"], a, ratio),
                            "b": (e["dataset"], e["model"], b, ratio),
                        }
                    )
        correction = "all"
    else:
        raise ValueError(f"method_pair_tests: family '{family['name']}' is of kind {family['kind']}")
    return run_tests(
        cells.cell_values(alpha), specs, paired=True, alternative="two-sided", correction=correction, table=number,
        family=family["name"], collapsed=cells.collapsed_cells(alpha, max_collapsed_share),
    )


TEST_KINDS = ("ratio_tests", "between_tests", "method_pairs")  # the Output kinds of the test tables


def family_tests(alpha: pd.DataFrame, family: dict, output: Output, *, max_collapsed_share: float) -> pd.DataFrame:
    """The tests of one planned test table of ``family`` (an :class:`Output` of kind :data:`TEST_KINDS`);
    ``max_collapsed_share`` (config ``collapse``) decides which rows involve a collapsed cell."""
    if output.kind not in TEST_KINDS:
        raise ValueError(f"{output.stem}: kind {output.kind!r} is not a test table {TEST_KINDS}")
    if output.kind == "method_pairs":  # one table for all of the family's methods
        return method_pair_tests(alpha, family, output.number, max_collapsed_share=max_collapsed_share)
    per_method = ratio_tests if output.kind == "ratio_tests" else between_tests
    return per_method(alpha, family, output.method, output.number, max_collapsed_share=max_collapsed_share)


def _join(groups) -> str:
    return " + ".join(g.label for g in groups)
