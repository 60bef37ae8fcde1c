"""Beyond α: what pruning forgets, per family -- the tables of PIE, per-class tests, error absorption
and recall disparity, built from the predictions and recall tables.

The analyses themselves live in :mod:`.pie` (Hooker et al. 2019, section 3), :mod:`.class_tests`
(Hooker et al.'s per-class Welch tests), :mod:`.confusion` and :mod:`.disparity` (Tran et al., NeurIPS
2022); this module computes them once for the whole study (:class:`StudyAnalyses`), keeps each
family's cells (every (group, ratio) of a family of kind method, model or dataset, labelled as the
family labels its groups) and turns them into :class:`~.tables.Table` s written like the paper's:

- ``pie_<f>``          per cell: PIE count and share, PIE per class, accuracy of the dense and pruned
                       populations on PIE and on the other images (CSV: one row per cell and class)
- ``class_tests_<f>``  per cell: classes pruning significantly hurts or helps (Welch, Bonferroni over
                       classes; CSV: one row per cell and class)
- ``absorption_<f>``   per cell: errors pruning adds and the classes that absorb them (CSV: one row
                       per cell and predicted class)
- ``disparity_<f>``    per cell: mean over seeds of the worst-class recall, the max - min recall gap and
                       the largest per-class drop, the dense models' worst class and gap, and Tran et
                       al.'s Spearman correlation of recall change with dense recall
"""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from recall_distortion.analysis import class_tests as tests_module
from recall_distortion.analysis import confusion, disparity, layout, pie, render, stats
from recall_distortion.analysis.layout import Output, ratio_key, ratio_label
from recall_distortion.analysis.tables import Table, write_table
from recall_distortion.columns import CELL_KEY, DENSE

log = logging.getLogger(__name__)

#: Most classes named in one cell of a display (PIE per class, absorbing classes).
TOP_CLASSES = 3
DISPARITY_COLUMNS = CELL_KEY + [
    "n", "accuracy", "worst_recall", "recall_gap", "largest_drop", "worst_recall_dense", "recall_gap_dense",
    "n_points", "mean_change", "slope", "rho", "p", "note",
]


class StudyAnalyses:
    """The analyses beyond α of every pruned cell of the study, each computed once, when first read,
    from the study's recall and predictions tables (long tables of the core modules)."""

    def __init__(self, recall: pd.DataFrame, predictions: pd.DataFrame):
        self.recall, self.predictions = recall, predictions

    @cached_property
    def pie(self) -> pd.DataFrame:
        """:func:`.pie.pie_table`: one row per (cell, test example)."""
        return pie.pie_table(self.predictions)

    @cached_property
    def class_tests(self) -> pd.DataFrame:
        """:func:`.class_tests.class_tests`: one row per (cell, class)."""
        return tests_module.class_tests(self.recall)

    @cached_property
    def change(self) -> pd.DataFrame:
        """:func:`.confusion.confusion_change`: one row per (cell, true, predicted)."""
        return confusion.confusion_change(confusion.mean_confusion(self.predictions))

    @cached_property
    def absorption(self) -> pd.DataFrame:
        """:func:`.confusion.error_absorption`: one row per (cell, predicted class)."""
        return confusion.error_absorption(self.change)

    @cached_property
    def disparity(self) -> pd.DataFrame:
        """:func:`.disparity.disparity_table`: one row per model, dense included."""
        return disparity.disparity_table(self.recall)

    @cached_property
    def recall_change(self) -> pd.DataFrame:
        """:func:`.disparity.recall_change`: one row per (pruned model, class)."""
        return disparity.recall_change(self.recall)


def family_cells(family: dict) -> pd.DataFrame:
    """The family's cells: CELL_KEY, ``group_label`` (the family's group label) and ``rk`` (ratio key)."""
    rows = [(*g.key, float(r), g.label, ratio_key(r)) for g in layout.groups(family) for r in layout.sorted_ratios(family)]
    return pd.DataFrame(rows, columns=CELL_KEY + ["group_label", "rk"])


def in_cells(frame: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``frame`` (with CELL_KEY columns) in ``cells``, with each cell's ``group_label``, in the
    order of ``cells`` (stable within a cell)."""
    if frame.empty:
        return frame.assign(group_label=pd.Series(dtype=str))
    keyed = frame.assign(rk=[ratio_key(r) for r in frame["ratio"]], _row=np.arange(len(frame)))
    order = cells[["dataset", "model", "method", "rk", "group_label"]].assign(_cell=np.arange(len(cells)))
    out = keyed.merge(order, on=["dataset", "model", "method", "rk"], how="inner")
    return out.sort_values(["_cell", "_row"], kind="stable").drop(columns=["rk", "_row", "_cell"]).reset_index(drop=True)


def highest_ratio_cells(family: dict) -> pd.DataFrame:
    """:func:`family_cells` at the family's highest ratio: where pruning moves recall most."""
    cells = family_cells(family)
    return cells[cells["rk"] == ratio_key(max(layout.sorted_ratios(family)))].reset_index(drop=True)


def _fmt(x, digits: int = 3) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _percent(x) -> str:
    return "n/a" if not np.isfinite(x) else f"{100 * x:.1f}%"


def _display(cells: pd.DataFrame, columns: dict[str, list[str]]) -> pd.DataFrame:
    frame = pd.DataFrame({"Ratio": [ratio_label(r) for r in cells["ratio"]], **columns})
    frame.index = pd.Index(list(cells["group_label"]), name="Cell")
    return frame


def _by_cell(frame: pd.DataFrame) -> dict:
    return {(d, m, p, ratio_key(r)): g for (d, m, p, r), g in frame.groupby(CELL_KEY, sort=False)}


def _cell_key(row) -> tuple:
    return (row.dataset, row.model, row.method, row.rk)


def _missing_notes(cells: pd.DataFrame, present: dict, what: str) -> list[str]:
    return [f"{r.group_label}, t = {ratio_label(r.ratio)}: no {what} in the study" for r in cells.itertuples()
            if _cell_key(r) not in present]


# --------------------------------------------------------------------------------------------------
# PIE (Hooker et al. 2019, section 3)


def pie_data(analyses: StudyAnalyses, family: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary, by_class) of the family's cells: :func:`.pie.pie_summary` and :func:`.pie.pie_by_class`
    with ``group_label``; empty frames (with their columns) when the study has none of its cells."""
    cells = family_cells(family)
    rows = in_cells(analyses.pie, cells)
    if rows.empty:
        return (pd.DataFrame(columns=pie.SUMMARY_COLUMNS + ["group_label"]),
                pd.DataFrame(columns=pie.BY_CLASS_COLUMNS + ["group_label"]))
    return in_cells(pie.pie_summary(rows), cells), in_cells(pie.pie_by_class(rows), cells)


def _top_classes(by_class: pd.DataFrame, value: str, share: str) -> str:
    """'3: 5 (42%), 8: 2 (17%)' -- the TOP_CLASSES classes with the largest positive ``value``."""
    top = by_class[by_class[value] > 0].sort_values([value, "class"], ascending=[False, True]).head(TOP_CLASSES)
    return ", ".join(f"{int(r['class'])}: {r[value]:g} ({_percent(r[share])})" for _, r in top.iterrows()) or "none"


def pie_table(out: Output, analyses: StudyAnalyses, family: dict) -> Table:
    """PIE per cell (Hooker et al. 2019, section 3): size, the classes with the most, and accuracy of
    both populations on PIE versus the rest of the test set."""
    cells = family_cells(family)
    summary, by_class = pie_data(analyses, family)
    rows, classes = _by_cell(summary), _by_cell(by_class)
    columns: dict[str, list[str]] = {k: [] for k in (
        "Seeds", "PIE", "Most PIE (class: n, share)", "Dense acc. PIE / rest", "Pruned acc. PIE / rest")}
    for cell in cells.itertuples():
        row = rows.get(_cell_key(cell))
        if row is None:
            for values in columns.values():
                values.append("n/a")
            continue
        r = row.iloc[0]
        columns["Seeds"].append(f"{r.n_dense} / {r.n_pruned}")
        columns["PIE"].append(f"{r.n_pie} ({_percent(r.pie_fraction)})")
        columns["Most PIE (class: n, share)"].append(_top_classes(classes[_cell_key(cell)], "n_pie", "pie_share"))
        for population in ("dense", "pruned"):
            columns[f"{population.capitalize()} acc. PIE / rest"].append(
                f"{_fmt(r[f'accuracy_{population}_pie'])} / {_fmt(r[f'accuracy_{population}_non_pie'])}")
    notes = [
        "PIE: test images whose most frequent prediction among the cell's pruned models differs from that among "
        "the dense models of the same dataset and model (ties to the lowest class). Seeds: dense / pruned models. "
        "Accuracy: mean over the population's models and the images of the subset.",
    ]
    notes += [f"{r.group_label}, t = {ratio_label(r.ratio)}: {r.note}" for r in summary.itertuples() if r.note]
    notes += _missing_notes(cells, rows, "predictions")
    data = by_class.drop(columns="group_label").rename(columns={"n_pie": "class_n_pie", "pie_fraction": "class_pie_fraction"})
    data = summary.drop(columns="group_label").merge(data, on=CELL_KEY, how="left")
    title = (f"Pruning-identified exemplars (PIE, Hooker et al. 2019) of family {family['name']}: how many test "
             "images pruning changes the population's answer on, and how both populations fare on them.")
    return Table(out, title, render.tex_escape(title), data, _display(cells, columns), notes)


# --------------------------------------------------------------------------------------------------
# Per-class population tests (Hooker et al. 2019)


def class_tests_data(analyses: StudyAnalyses, family: dict) -> pd.DataFrame:
    """The family's rows of :func:`.class_tests.class_tests` with ``group_label``."""
    return in_cells(analyses.class_tests, family_cells(family))


def class_tests_table(out: Output, analyses: StudyAnalyses, family: dict) -> Table:
    """Per cell, the classes whose recall balance B = R - A pruning significantly lowers or raises."""
    cells = family_cells(family)
    data = class_tests_data(analyses, family)
    rows = _by_cell(data)

    def named(cell, effect):
        hits = cell[cell["effect"] == effect]
        return ", ".join(f"{int(r['class'])} ({stats.format_p(r['p_bonferroni'])}, {r['difference']:+.3f})"
                         for _, r in hits.iterrows()) or "none"

    columns: dict[str, list[str]] = {"Tested": [], "Hurt (p, ΔB)": [], "Helped (p, ΔB)": []}
    notes = [
        "Welch t-test per class of B = R^c - A between the dense and the pruned models (Hooker et al. 2019), "
        "two-sided, Bonferroni-corrected over the classes of the cell; ΔB = mean pruned B - mean dense B. Like the "
        "paper's E[I_t^c] (section 5: Hooker et al.'s analysis amounts to E[I] class by class) it asks, class by "
        "class, whether pruning moves a class's recall relative to accuracy; α instead pools all classes of one "
        "model into one slope weighted by the squared normalized recall balance.",
    ]
    for cell in cells.itertuples():
        sub = rows.get(_cell_key(cell))
        if sub is None:
            columns["Tested"].append("n/a")
            columns["Hurt (p, ΔB)"].append("n/a")
            columns["Helped (p, ΔB)"].append("n/a")
            continue
        columns["Tested"].append(f"{int(sub['p'].notna().sum())} of {len(sub)}")
        columns["Hurt (p, ΔB)"].append(named(sub, tests_module.HURTS))
        columns["Helped (p, ΔB)"].append(named(sub, tests_module.HELPS))
        reasons = sub.loc[sub["note"] != "", "note"].value_counts()
        notes += [f"{cell.group_label}, t = {ratio_label(cell.ratio)}: {n} classes {why}" for why, n in reasons.items()]
    notes += _missing_notes(cells, rows, "recall rows")
    title = (f"Per-class population tests of family {family['name']}: classes whose recall relative to accuracy "
             "pruning significantly hurts or helps.")
    return Table(out, title, render.tex_escape(title), data.drop(columns="group_label"), _display(cells, columns), notes)


# --------------------------------------------------------------------------------------------------
# Confusion: where pruning's new errors go


def absorption_table(out: Output, analyses: StudyAnalyses, family: dict) -> Table:
    """Per cell, the errors pruning adds (mean over true classes of the positive off-diagonal change in
    the row-normalized confusion matrix) and the classes they are predicted as."""
    cells = family_cells(family)
    data = in_cells(analyses.absorption, cells)
    rows = _by_cell(data)
    columns: dict[str, list[str]] = {"Added errors": [], "Absorbed by (class: rate, share)": []}
    for cell in cells.itertuples():
        sub = rows.get(_cell_key(cell))
        if sub is None or not np.isfinite(sub["absorbed"]).any():
            columns["Added errors"].append("n/a")
            columns["Absorbed by (class: rate, share)"].append("n/a")
            continue
        columns["Added errors"].append(_percent(sub["absorbed"].sum() / len(sub)))
        top = sub[sub["absorbed"] > 0].sort_values(["absorbed", "class"], ascending=[False, True]).head(TOP_CLASSES)
        columns["Absorbed by (class: rate, share)"].append(
            ", ".join(f"{int(r['class'])}: {r['absorbed']:.3f} ({_percent(r['share'])})" for _, r in top.iterrows())
            or "none")
    notes = [
        "Confusion matrices are row-normalized (rate of true class c predicted as p) and averaged over seeds. A class "
        "absorbs the sum over true classes c ≠ p of max(rate_pruned - rate_dense, 0): how much more often pruned models predict it for images "
        "of other classes; share: its part of the cell's total. Added errors: that total over the number of "
        "classes, the share of a class's images newly predicted as another class, on average.",
    ]
    notes += [f"{r.group_label}, t = {ratio_label(r.ratio)}: {r.note}" for r in
              data.drop_duplicates(CELL_KEY + ["note"]).itertuples() if r.note]
    notes += _missing_notes(cells, rows, "predictions")
    title = f"Classes that absorb the errors pruning adds, family {family['name']} (mean confusion change, pruned - dense)."
    return Table(out, title, render.tex_escape(title), data.drop(columns="group_label"), _display(cells, columns), notes)


# --------------------------------------------------------------------------------------------------
# Disparity (Tran et al. 2022)


def disparity_data(analyses: StudyAnalyses, family: dict) -> pd.DataFrame:
    """:func:`disparity_cells` of the family's cells."""
    return disparity_cells(analyses, family_cells(family))


def disparity_cells(analyses: StudyAnalyses, cells: pd.DataFrame) -> pd.DataFrame:
    """Per cell of ``cells`` (columns :data:`DISPARITY_COLUMNS` and ``group_label``): the per-model
    disparity of :func:`.disparity.disparity_table` averaged over seeds, the dense models' worst-class
    recall and gap, and :func:`.disparity.rich_get_richer` of the pooled recall changes."""
    per_model = analyses.disparity
    pruned = in_cells(per_model[per_model["method"] != DENSE], cells)
    means = pruned.groupby(CELL_KEY, sort=False).agg(
        n=("seed", "size"), accuracy=("accuracy", "mean"), worst_recall=("worst_recall", "mean"),
        recall_gap=("recall_gap", "mean"), largest_drop=("largest_drop", "mean"),
    ).reset_index()
    dense = per_model[per_model["method"] == DENSE].groupby(["dataset", "model"]).agg(
        worst_recall_dense=("worst_recall", "mean"), recall_gap_dense=("recall_gap", "mean")).reset_index()
    rich = disparity.rich_get_richer(in_cells(analyses.recall_change, cells).drop(columns="group_label"))
    out = means.merge(dense, on=["dataset", "model"], how="left").merge(rich, on=CELL_KEY, how="left")
    return in_cells(out[DISPARITY_COLUMNS], cells)


def disparity_table(out: Output, analyses: StudyAnalyses, family: dict) -> Table:
    """Per cell, the worst class, the recall gap and the largest drop next to the dense models'."""
    cells = family_cells(family)
    data = disparity_data(analyses, family)
    rows = _by_cell(data)
    columns: dict[str, list[str]] = {k: [] for k in (
        "Seeds", "Worst-class recall (dense → pruned)", "Max - min gap (dense → pruned)", "Largest drop",
        "Spearman ρ (p)")}
    for cell in cells.itertuples():
        sub = rows.get(_cell_key(cell))
        if sub is None:
            for values in columns.values():
                values.append("n/a")
            continue
        r = sub.iloc[0]
        columns["Seeds"].append(str(int(r.n)))
        columns["Worst-class recall (dense → pruned)"].append(f"{_fmt(r.worst_recall_dense)} → {_fmt(r.worst_recall)}")
        columns["Max - min gap (dense → pruned)"].append(f"{_fmt(r.recall_gap_dense)} → {_fmt(r.recall_gap)}")
        columns["Largest drop"].append(_fmt(r.largest_drop))
        columns["Spearman ρ (p)"].append("n/a" if not np.isfinite(r.rho) else f"{r.rho:+.2f} ({stats.format_p(r.p)})")
    notes = [
        "Means over seeds of each model's min_c R^c, max_c R^c - min_c R^c and max_c (R_dense^c - R^c) (dense: the "
        "dense models of the same dataset and model). Spearman ρ of each class's recall change against its dense "
        "recall, pooled over seeds (Tran et al. 2022): ρ > 0, classes that were better before pruning lose less.",
    ]
    notes += [f"{r.group_label}, t = {ratio_label(r.ratio)}: {r.note}" for r in data.itertuples()
              if isinstance(r.note, str) and r.note]
    notes += _missing_notes(cells, rows, "recall rows")
    title = (f"Disparity of per-class recall after pruning, family {family['name']}: worst class, gap and largest "
             "drop (means over seeds).")
    return Table(out, title, render.tex_escape(title), data.drop(columns="group_label"), _display(cells, columns), notes)


BUILDERS = {
    "pie_table": pie_table,
    "class_tests": class_tests_table,
    "absorption": absorption_table,
    "disparity": disparity_table,
}


def write_forgetting_tables(recall: pd.DataFrame, predictions: pd.DataFrame, families: list[dict],
                            directory: str | Path) -> list[Path]:
    """Build and write every planned table beyond α (``layout.forgetting_plan``) into ``directory``."""
    analyses = StudyAnalyses(recall, predictions)
    by_name = {f["name"]: f for f in families}
    paths = []
    for output in layout.analysis_plan(families).forgetting:
        if output.kind in BUILDERS:
            log.info("writing %s", output.stem)
            paths += write_table(BUILDERS[output.kind](output, analyses, by_name[output.family]), directory)
    return paths
