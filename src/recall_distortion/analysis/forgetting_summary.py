"""The summary's section "Beyond α: what pruning forgets", in words with its numbers.

One short paragraph per analysis of :mod:`.forgetting` over the cells of the study's families of kind
method, model and dataset (each cell once), and the noise floor of α (:mod:`.noise_floor`) of the
same cells:

- PIE (Hooker et al. 2019, section 3): their share of the test set and the accuracy gap of both
  populations on PIE versus the rest;
- per-class population tests (Hooker et al.): the classes pruning significantly hurts or helps, and
  what they share with the paper's E[I_t^c] (section 5);
- confusion: the classes that absorb the errors pruning adds, at each group's highest ratio;
- disparity (Tran et al., NeurIPS 2022): worst-class recall and max - min gap against the dense
  models', and the correlation of recall change with dense recall;
- noise floor: how often test-set sampling alone spreads α as much as the seeds do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recall_distortion.analysis import cells as cells_module
from recall_distortion.analysis import layout, stats
from recall_distortion.analysis.class_tests import HELPS, HURTS
from recall_distortion.analysis.forgetting import StudyAnalyses, disparity_cells, in_cells
from recall_distortion.analysis.layout import FORGETTING_FAMILY_KINDS, ratio_key, ratio_label
from recall_distortion.analysis.pie import pie_summary
from recall_distortion.analysis.summary import _cell, _num, _p
from recall_distortion.columns import CELL_KEY, SERIES_KEY

HEADING = "## Beyond α: what pruning forgets"
#: Classes named per list (most often hurt, absorbing).
TOP = 3


def _percent(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{100 * x:.1f}%"


def _span(counts: pd.Series) -> str:
    """'2' or '2-30': the range of population sizes."""
    low, high = int(counts.min()), int(counts.max())
    return str(low) if low == high else f"{low}-{high}"


def _where(row) -> str:
    return f"{_cell(row.dataset, row.model, row.method)}, t = {ratio_label(row.ratio)}"


def study_cells(families: list[dict]) -> pd.DataFrame:
    """Every cell of the families the analyses cover, once: CELL_KEY, ``group_label`` (the cell's
    words) and ``rk``; empty when no family is of kind method, model or dataset."""
    covered = [f for f in families if f["kind"] in FORGETTING_FAMILY_KINDS]
    rows = [(d, m, p, float(r), _cell(d, m, p), ratio_key(r)) for d, m, p, r in layout.study_cells(covered)]
    return pd.DataFrame(rows, columns=CELL_KEY + ["group_label", "rk"])


def _top_per_group(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``frame`` (one per cell) at the highest ratio of each (dataset, model, method)."""
    return frame.loc[frame.groupby(SERIES_KEY, sort=False)["ratio"].idxmax()]


def _section(title: str, rows: pd.DataFrame, missing: str, body) -> list[str]:
    """A ``### title`` subsection: ``body(rows)``, or ``missing`` when the study has no such rows."""
    return [f"### {title}", ""] + (body(rows) if not rows.empty else [missing])


def _pie_lines(rows: pd.DataFrame) -> list[str]:
    lines = []
    summary = pie_summary(rows)
    usable = summary[summary["n_dense"] > 0]
    if usable.empty:
        return ["No cell has dense models to compare with: no PIE."]
    low, high = usable.loc[usable["pie_fraction"].idxmin()], usable.loc[usable["pie_fraction"].idxmax()]
    with_pie = usable[usable["n_pie"] > 0]
    mean = {c: float(with_pie[c].mean()) for c in (
        "accuracy_dense_pie", "accuracy_dense_non_pie", "accuracy_pruned_pie", "accuracy_pruned_non_pie")}
    lines.append(
        f"PIE -- test images on which the pruned models' most frequent prediction differs from the dense models' -- "
        f"are on average {_percent(usable['pie_fraction'].mean())} of the test set per cell (from "
        f"{_percent(low.pie_fraction)} for {_where(low)} to {_percent(high.pie_fraction)} for {_where(high)}). "
        + (f"On them, averaged over the {len(with_pie)} cells with PIE, the dense models are right "
           f"{_percent(mean['accuracy_dense_pie'])} of the time against {_percent(mean['accuracy_dense_non_pie'])} on "
           f"the other images, the pruned models {_percent(mean['accuracy_pruned_pie'])} against "
           f"{_percent(mean['accuracy_pruned_non_pie'])}. The dense models do worse on PIE than on the rest in "
           f"{int((with_pie['accuracy_dense_pie'] < with_pie['accuracy_dense_non_pie']).sum())} of {len(with_pie)} "
           f"cells, the pruned models in "
           f"{int((with_pie['accuracy_pruned_pie'] < with_pie['accuracy_pruned_non_pie']).sum())} (Hooker et al. find "
           "both populations worse on PIE)." if len(with_pie) else "No cell has any PIE.")
    )
    no_pie = usable[usable["n_pie"] == 0]
    if len(no_pie):
        lines += ["", f"{len(no_pie)} cells have no PIE (both populations agree on every image)."]
    if len(usable) < len(summary):
        lines += ["", f"{len(summary) - len(usable)} cells have no dense models: no PIE there."]
    return lines


def _class_test_lines(tests: pd.DataFrame) -> list[str]:
    lines = []
    n_cells = tests.groupby(CELL_KEY).ngroups
    tested = tests[tests["p"].notna()]
    if tested.empty:
        reasons = ", ".join(sorted(set(tests["note"]) - {""}))
        return [f"No class could be tested in any of the {n_cells} cells ({reasons}): e.g. one seed gives "
                        "populations of one model."]
    hurt, helped = tests[tests["effect"] == HURTS], tests[tests["effect"] == HELPS]
    often = hurt["class"].value_counts().head(TOP)
    lines.append(
        f"Welch t-tests of each class's recall balance B = R^c - A between the dense and the pruned models, "
        f"Bonferroni-corrected over the classes of a cell: pruning significantly hurts at least one class in "
        f"{hurt.groupby(CELL_KEY).ngroups} of {n_cells} cells and helps one in {helped.groupby(CELL_KEY).ngroups} "
        f"({len(hurt)} hurt and {len(helped)} helped (cell, class) pairs of {len(tested)} tested, populations of "
        f"{_span(tested['n_dense'])} dense and {_span(tested['n_pruned'])} pruned models)"
        + (f"; most often hurt: {', '.join(f'class {c} ({n} cells)' for c, n in often.items())}." if len(often) else ".")
    )
    lines += ["", "These tests ask, class by class, what the paper's E[I_t^c] asks (section 5: Hooker et al.'s "
              "analysis amounts to evaluating E[I_t^c]); α answers for all classes of a model at once."]
    untested = len(tests) - len(tested)
    if untested:
        lines += ["", f"{untested} (cell, class) pairs not tested (see the `class_tests_<family>` tables' notes)."]
    return lines


def _absorption_lines(absorbed: pd.DataFrame) -> list[str]:
    lines = []
    lines.append("At each group's highest ratio, the errors pruning adds (mean over classes of the images newly "
                 "predicted as another class) and the classes they land on (share of those errors):")
    lines.append("")
    per_cell = absorbed.groupby(CELL_KEY, sort=False)
    top = _top_per_group(per_cell["absorbed"].sum().reset_index())
    for row in top.itertuples():
        sub = per_cell.get_group((row.dataset, row.model, row.method, row.ratio))
        k = len(sub)
        ranked = sub[sub["absorbed"] > 0].sort_values(["absorbed", "class"], ascending=[False, True]).head(TOP)
        where = ", ".join(f"class {int(r['class'])} ({_percent(r['share'])})" for _, r in ranked.iterrows())
        note = sub["note"].iloc[0]
        lines.append(f"- {_where(row)}: " + (note if note else f"{_percent(row.absorbed / k)} added; absorbed by {where}"))
    return lines


def _disparity_lines(data: pd.DataFrame) -> list[str]:
    lines = []
    finite = data[np.isfinite(data["rho"])]
    positive = int((finite["rho"] > 0).sum())
    significant = finite[finite["p"] < stats.SIGNIFICANCE]
    lines.append(
        "Means over seeds at each group's highest ratio: worst-class recall and max - min recall gap before → after "
        "pruning, the largest per-class drop, and Spearman's ρ of each class's recall change with its recall before "
        "(ρ > 0: the classes that were better lose less, Tran et al.'s \"the rich get richer\"):"
    )
    lines.append("")
    for row in _top_per_group(data).itertuples():
        lines.append(
            f"- {_where(row)}: worst class {_num(row.worst_recall_dense)} → {_num(row.worst_recall)}, gap "
            f"{_num(row.recall_gap_dense)} → {_num(row.recall_gap)}, largest drop {_num(row.largest_drop)}, "
            f"ρ = {_num(row.rho, 2)}" + (f" ({_p(row.p)})" if np.isfinite(row.p) else "")
        )
    lines += ["", f"Over all {len(finite)} cells with a correlation, ρ > 0 in {positive}; {len(significant)} "
              f"correlations are significant (p < {stats.SIGNIFICANCE:g}, uncorrected). A negative ρ is partly a floor "
              "and ceiling effect: a class at recall 0 can only gain and one at recall 1 can only lose."]
    return lines


def _noise_lines(recall: pd.DataFrame, cells: pd.DataFrame, draws: int, seed: int) -> list[str]:
    lines = ["### Noise floor of α", ""]
    keys = list(cells[CELL_KEY].itertuples(index=False, name=None))
    floor = pd.concat([cells.reset_index(drop=True), cells_module.noise_floor_columns(recall, keys, draws, seed)], axis=1)
    both = floor[np.isfinite(floor["alpha_sd"]) & np.isfinite(floor["alpha_sd_noise"])]
    if both.empty:
        return lines + [f"Not computed: none of the {len(floor)} cells has two or more seeds with a defined α (one "
                        "seed gives no spread across seeds)."]
    at_floor = both[both["alpha_sd_noise"] >= both["alpha_sd"]]
    ratio = float(np.median(both["alpha_sd_noise"] / both["alpha_sd"]))
    worst = both.loc[(both["alpha_sd_noise"] / both["alpha_sd"]).idxmax()]
    lines.append(
        f"Redrawing each model's per-class correct counts from binomial(support, recall) ({draws} draws) spreads α "
        f"by a median {ratio:.2f} times its observed spread over seeds; in {len(at_floor)} of {len(both)} cells the "
        f"test-set noise alone is at least the observed spread (largest: {_where(worst)}, SD {_num(worst.alpha_sd_noise)} "
        f"from the test set vs {_num(worst.alpha_sd)} over seeds; `alpha_ci` lists every cell)."
    )
    lines += ["", "Every seed is evaluated on the same test images, so this noise shifts a cell's mean α rather than "
              "its spread across seeds: the 99% CI of E[α], built from that spread, does not contain it, and where "
              "the floor reaches the observed spread one test set cannot resolve differences of α of that size."]
    if len(both) < len(floor):
        lines += ["", f"{len(floor) - len(both)} cells without a noise floor (fewer than 2 seeds with a defined α)."]
    return lines


def beyond_alpha(recall: pd.DataFrame, predictions: pd.DataFrame, families: list[dict], analysis: dict) -> list[str]:
    """The section's Markdown lines; ``analysis`` is the config's ``analysis`` block (noise floor draws, seed)."""
    cells = study_cells(families)
    lines = [HEADING, ""]
    if cells.empty:
        return lines + ["No family of kind method, model or dataset: no analyses beyond α."]
    lines.append(
        f"{len(cells)} (dataset, model, method, ratio) cells of the families of kind method, model and dataset; per "
        "family, tables `pie_<f>`, `class_tests_<f>`, `absorption_<f>`, `disparity_<f>` and figures "
        "`pie_images_<f>`, `confusion_<f>`, `recall_change_<f>`."
    )
    analyses = StudyAnalyses(recall, predictions)
    no_predictions, no_recall = "No predictions for these cells.", "No recall rows for these cells."
    for part in (
        _section("Pruning-identified exemplars (PIE, Hooker et al. 2019)", in_cells(analyses.pie, cells),
                 no_predictions, _pie_lines),
        _section("Classes pruning hurts or helps (per-class population tests)", in_cells(analyses.class_tests, cells),
                 no_recall, _class_test_lines),
        _section("Where pruning's errors go (confusion change)", in_cells(analyses.absorption, cells), no_predictions,
                 _absorption_lines),
        _section("Disparity: worst class, gap, largest drop (Tran et al. 2022)", disparity_cells(analyses, cells),
                 no_recall, _disparity_lines),
        _noise_lines(recall, cells, analysis["noise_floor_draws"], analysis["noise_floor_seed"]),
    ):
        lines += [""] + part
    return lines
