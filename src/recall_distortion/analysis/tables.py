"""Every table of the paper, built from the alpha table, and written as CSV, Markdown, LaTeX and HTML.

Each builder returns a long DataFrame with documented columns (the CSV, full precision); a
:class:`Table` adds the paper-style wide view (p-values as ``<0.001`` / three decimals) that goes to
Markdown, LaTeX (booktabs) and HTML, with the paper's table number in the title.

Builders (one per kind of table):

- :func:`alpha_ci`             99% CI of E[α] per cell with its ``<``/``>``/``?`` mark (section 6.2)
- :func:`ratio_tests`          Tables 1-4: paired one-sided tests between consecutive ratios (7.1)
- :func:`between_tests`        Tables 5-7: independent one-sided tests between models / datasets (7.2-7.3)
- :func:`method_pair_tests`    Tables 8-9: paired two-sided tests between pruning methods (7.4)
- :func:`dense_accuracy`       Table 10: mean accuracy before pruning (Appendix D)
- :func:`recall_variance`      Table 11: mean recall variance before / after pruning (Appendix F)
- :func:`tradeoff_data`        data of Figure 13: mean accuracy and α with standard errors (Appendix E)

Long columns of the test tables (:data:`TEST_COLUMNS`): ``table, family, row, column`` (where the
p-value sits in the paper-style table), the two compared cells ``dataset_a, model_a, method_a,
ratio_a`` / ``..._b``, ``alternative`` (H_a for a - b), ``paired``, ``n_a, n_b`` (values used; pairs
for paired tests), ``mean_a, mean_b``, ``t, dof, p`` (uncorrected), ``m`` (Bonferroni multiplier),
``p_bonferroni`` and ``note`` (why a row was not tested, or seeds left out for a NaN α).
"""

from __future__ import annotations

import html
import itertools
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from recall_distortion.analysis import layout, stats
from recall_distortion.analysis.layout import Output, dataset_label, method_label, model_label, ratio_key, ratio_label
from recall_distortion.atomic import write_text

log = logging.getLogger(__name__)

ALPHA_CI_COLUMNS = ["dataset", "model", "method", "ratio", "n", "mean", "ci_low", "ci_high", "mark", "n_nan"]
NAN_COLUMNS = ["dataset", "model", "method", "ratio", "alpha_reason", "count"]
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
    "p",
    "m",
    "p_bonferroni",
    "note",
]
KEYS = ["dataset", "model", "method", "ratio", "seed"]


# --------------------------------------------------------------------------------------------------
# Access to the alpha table


def cell_values(alpha: pd.DataFrame) -> dict[tuple, pd.Series]:
    """α per cell: ``{(dataset, model, method, ratio_key): Series(alpha, index=seed)}``, NaN kept.

    Raises ValueError on duplicate (dataset, model, method, ratio, seed) rows.
    """
    frame = alpha[KEYS + ["alpha"]].copy()
    frame["rk"] = [ratio_key(r) for r in frame["ratio"]]
    dup = frame.duplicated(["dataset", "model", "method", "rk", "seed"], keep=False)
    if dup.any():
        raise ValueError(f"alpha table has duplicate rows: {frame.loc[dup, KEYS].head().to_dict('records')}")
    out = {}
    for key, sub in frame.groupby(["dataset", "model", "method", "rk"], sort=False):
        out[key] = pd.Series(sub["alpha"].to_numpy(np.float64), index=sub["seed"].to_numpy(), name="alpha")
    return out


def _get(cells: dict, dataset: str, model: str, method: str, ratio: float) -> pd.Series:
    return cells.get((dataset, model, method, ratio_key(ratio)), pd.Series(dtype=np.float64, name="alpha"))


# --------------------------------------------------------------------------------------------------
# Confidence intervals (section 6.2) and NaN accounting


def alpha_ci(alpha: pd.DataFrame, cells: list[tuple[str, str, str, float]], confidence: float = stats.CONFIDENCE):
    """99% t-based CI of E[α] for each (dataset, model, method, ratio) cell, with its mark (6.2).

    Columns :data:`ALPHA_CI_COLUMNS`: ``n`` non-NaN α used, ``mean``, ``ci_low``, ``ci_high``, ``mark``
    (``<`` CI below 1, ``>`` above, ``?`` overlaps, ``""`` undefined: fewer than 2 values), and
    ``n_nan`` the number of seeds whose α is NaN (reasons: :func:`nan_alpha`).
    """
    values = cell_values(alpha)
    rows = []
    for d, m, p, r in cells:
        s = _get(values, d, m, p, r)
        ci = stats.mean_ci(s.to_numpy(), confidence)
        rows.append(
            {
                "dataset": d,
                "model": m,
                "method": p,
                "ratio": float(r),
                "n": ci.n,
                "mean": ci.mean,
                "ci_low": ci.low,
                "ci_high": ci.high,
                "mark": stats.ci_mark(ci.low, ci.high),
                "n_nan": int(s.isna().sum()),
            }
        )
    out = pd.DataFrame(rows, columns=ALPHA_CI_COLUMNS)
    return out.astype({"n": "int64", "n_nan": "int64", "ratio": "float64"})


def nan_alpha(alpha: pd.DataFrame, cells: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    """Seeds with NaN α per cell and reason (columns :data:`NAN_COLUMNS`); empty when none."""
    wanted = {(d, m, p, ratio_key(r)) for d, m, p, r in cells}
    nan = alpha[alpha["alpha"].isna()].copy()
    if nan.empty:
        return pd.DataFrame(columns=NAN_COLUMNS)
    nan["rk"] = [ratio_key(r) for r in nan["ratio"]]
    nan = nan[[k in wanted for k in zip(nan["dataset"], nan["model"], nan["method"], nan["rk"])]]
    reason = nan["alpha_reason"].fillna("").astype(str).replace("", "no reason given")
    out = (
        nan.assign(alpha_reason=reason)
        .groupby(["dataset", "model", "method", "ratio", "alpha_reason"], sort=False)
        .size()
        .rename("count")
        .reset_index()
    )
    return out[NAN_COLUMNS]


# --------------------------------------------------------------------------------------------------
# Hypothesis tests (section 7, Appendix A)


def _tests(cells: dict, specs: list[dict], *, paired: bool, alternative: str, correction: str, table: int, family: str):
    """Run one t-test per spec and Bonferroni-correct by ``"column"`` or over ``"all"`` rows (6.2).

    A spec is ``{"row", "column", "a": (d, m, p, r) or [keys], "b": ...}``; paired specs have one key
    per side, independent ones may pool several keys per side (a dataset listed with two models).
    """
    rows = []
    for spec in specs:
        a_keys, b_keys = spec["a"], spec["b"]
        if paired:
            res = stats.paired_ttest(_get(cells, *a_keys), _get(cells, *b_keys), alternative)
        else:
            res = stats.independent_ttest(
                np.concatenate([_get(cells, *k).to_numpy() for k in a_keys]),
                np.concatenate([_get(cells, *k).to_numpy() for k in b_keys]),
                alternative,
            )
        first_a = a_keys if paired else a_keys[0]
        first_b = b_keys if paired else b_keys[0]
        rows.append(
            {
                "table": table,
                "family": family,
                "row": spec["row"],
                "column": spec["column"],
                "dataset_a": first_a[0],
                "model_a": first_a[1],
                "method_a": first_a[2],
                "ratio_a": float(first_a[3]),
                "dataset_b": first_b[0],
                "model_b": first_b[1],
                "method_b": first_b[2],
                "ratio_b": float(first_b[3]),
                "alternative": alternative,
                "paired": paired,
                **res.asdict(),
            }
        )
    out = pd.DataFrame(rows, columns=[c for c in TEST_COLUMNS if c not in ("m", "p_bonferroni")])
    if out.empty:
        return pd.DataFrame(columns=TEST_COLUMNS)
    if correction not in ("column", "all"):
        raise ValueError(f"correction must be 'column' or 'all', got {correction!r}")
    scopes = out.groupby("column", sort=False).groups.values() if correction == "column" else [out.index]
    for index in scopes:
        out.loc[index, "m"] = len(index)
        out.loc[index, "p_bonferroni"] = stats.bonferroni(out.loc[index, "p"].to_numpy())
    out["m"] = out["m"].astype("int64")
    return out[TEST_COLUMNS]


def _dimension(family: dict) -> tuple[str, str]:
    """(symbol, words) of what a family varies besides t: M architecture, D dataset, P algorithm."""
    return {
        "model": ("M", "architecture"),
        "dataset": ("D", "dataset"),
        "method": ("P", "pruning algorithm"),
        "tradeoff": ("P", "setting"),
    }[family["kind"]]


def ratio_tests(alpha: pd.DataFrame, family: dict, method: str | None = None) -> pd.DataFrame:
    """Tables 1-4 (section 7.1): one-sided paired tests between consecutive ratios t_i < t_{i+1}.

    H_0: E[α_{t_i}] >= E[α_{t_{i+1}}] vs H_a: E[α_{t_i}] < E[α_{t_{i+1}}] for each group of the family
    (each method of a method family; each model / dataset of a model / dataset family pruned with
    ``method``), paired by seed. Rows ``"t_i vs t_{i+1}"``, columns the groups; Bonferroni by column.
    """
    cells = cell_values(alpha)
    ratios = layout.sorted_ratios(family)
    specs = [
        {"row": f"{ratio_label(a)} vs {ratio_label(b)}", "column": g.label, "a": (*g.key, a), "b": (*g.key, b)}
        for g in layout.groups(family, method)
        for a, b in zip(ratios[:-1], ratios[1:])
    ]
    number = _number(family, "ratio_tests", method)
    return _tests(
        cells, specs, paired=True, alternative="less", correction="column", table=number, family=family["name"]
    )


def between_tests(alpha: pd.DataFrame, family: dict, method: str) -> pd.DataFrame:
    """Tables 5-7 (sections 7.2-7.3): one-sided independent Student tests per ratio.

    Model families compare consecutive architectures in listed order, H_a: E[α_t^{M_i}] > E[α_t^{M_{i+1}}]
    (smaller model, more intensification); dataset families compare each (D_i, D_j) of
    ``comparisons`` (default consecutive datasets), H_a: E[α_t^{D_i}] < E[α_t^{D_j}] (more complex
    task, more intensification). Rows the pairs, columns the ratios; Bonferroni by column.
    """
    cells = cell_values(alpha)
    ratios = layout.sorted_ratios(family)
    by_exp = {(g.dataset, g.model): g for g in layout.groups(family, method)}
    if family["kind"] == "model":
        exps = list(by_exp.values())
        pairs = [([a], [b]) for a, b in zip(exps[:-1], exps[1:])]
        alternative = "greater"
    elif family["kind"] == "dataset":
        pairs = [
            ([g for g in by_exp.values() if g.dataset == da], [g for g in by_exp.values() if g.dataset == db])
            for da, db in layout.comparisons(family)
        ]
        alternative = "less"
    else:
        raise ValueError(f"between_tests: family '{family['name']}' is of kind {family['kind']}, not model/dataset")
    specs = []
    for a_groups, b_groups in pairs:
        if not a_groups or not b_groups:
            raise ValueError(f"family '{family['name']}': a compared dataset has no experiment")
        label = f"{_join(a_groups)} vs {_join(b_groups)}"
        for r in ratios:
            specs.append(
                {
                    "row": label,
                    "column": f"t = {ratio_label(r)}",
                    "a": [(*g.key, r) for g in a_groups],
                    "b": [(*g.key, r) for g in b_groups],
                }
            )
    number = _number(family, "between_tests", method)
    return _tests(
        cells, specs, paired=False, alternative=alternative, correction="column", table=number, family=family["name"]
    )


def method_pair_tests(alpha: pd.DataFrame, family: dict) -> pd.DataFrame:
    """Tables 8-9 (section 7.4): two-sided paired tests between every pair of the family's methods.

    Method family (Table 8): rows the method pairs (per experiment if several), columns the ratios,
    Bonferroni by column. Model / dataset family (Table 9): rows the ratios (per pair if several),
    columns the models / datasets, Bonferroni over all cells at once (25 in the paper).
    """
    cells = cell_values(alpha)
    ratios = layout.sorted_ratios(family)
    pairs = list(itertools.combinations(family["methods"], 2))
    exps = family["experiments"]
    specs = []
    if family["kind"] == "method":
        for e in exps:
            prefix = f"{dataset_label(e['dataset'])} @ {model_label(e['model'])}: " if len(exps) > 1 else ""
            for a, b in pairs:
                for r in ratios:
                    specs.append(
                        {
                            "row": f"{prefix}{method_label(a)} vs {method_label(b)}",
                            "column": f"t = {ratio_label(r)}",
                            "a": (e["dataset"], e["model"], a, r),
                            "b": (e["dataset"], e["model"], b, r),
                        }
                    )
        correction, number = "column", 8
    elif family["kind"] in ("model", "dataset"):
        labels = [g.label for g in layout.groups(family, family["methods"][0])]
        for a, b in pairs:
            prefix = f"{method_label(a)} vs {method_label(b)}, t = " if len(pairs) > 1 else ""
            for r in ratios:
                for e, label in zip(exps, labels):
                    specs.append(
                        {
                            "row": f"{prefix}{ratio_label(r)}",
                            "column": label,
                            "a": (e["dataset"], e["model"], a, r),
                            "b": (e["dataset"], e["model"], b, r),
                        }
                    )
        correction, number = "all", 9
    else:
        raise ValueError(f"method_pair_tests: family '{family['name']}' is of kind {family['kind']}")
    return _tests(
        cells, specs, paired=True, alternative="two-sided", correction=correction, table=number, family=family["name"]
    )


def _number(family: dict, kind: str, method: str | None) -> int:
    for out in layout.family_plan(family)[0]:
        if out.kind == kind and out.method == method:
            return out.number
    raise ValueError(f"family '{family['name']}' has no {kind} table for method {method!r}")


def _join(groups_) -> str:
    return " + ".join(g.label for g in groups_)


# --------------------------------------------------------------------------------------------------
# Appendix tables


def _per_seed(alpha: pd.DataFrame, column: str) -> pd.DataFrame:
    """One value of a dense-model column per (dataset, model, method, seed) (same for every ratio)."""
    return alpha.groupby(["dataset", "model", "method", "seed"], sort=False)[column].mean().reset_index()


def _rows(frame: pd.DataFrame, dataset: str, model: str, method: str, ratio: float | None = None) -> pd.DataFrame:
    """Rows of one (dataset, model, method) -- and ratio, if given -- of a table with those columns."""
    keep = (frame["dataset"] == dataset) & (frame["model"] == model) & (frame["method"] == method)
    if ratio is not None:
        keep &= np.isclose(frame["ratio"].to_numpy(np.float64), float(ratio), rtol=0, atol=1e-9)
    return frame[keep]


def dense_accuracy(alpha: pd.DataFrame, study_groups: list[tuple[str, str, str]]) -> pd.DataFrame:
    """Table 10 (Appendix D): mean accuracy before pruning of the models used for each method.

    Columns: dataset, model, method, n (seeds), accuracy_dense (mean over seeds).
    """
    per_seed = _per_seed(alpha, "accuracy_dense")
    rows = []
    for d, m, p in study_groups:
        acc = _rows(per_seed, d, m, p)["accuracy_dense"].dropna()
        rows.append({"dataset": d, "model": m, "method": p, "n": int(acc.size), "accuracy_dense": float(acc.mean())})
    return pd.DataFrame(rows, columns=["dataset", "model", "method", "n", "accuracy_dense"])


RECALL_VARIANCE_COLUMNS = ["dataset", "model", "method", "stage", "ratio", "n", "recall_variance", "above_before"]


def recall_variance(alpha: pd.DataFrame, study_cells: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    """Table 11 (Appendix F): mean recall variance before pruning and after each ratio.

    Long columns :data:`RECALL_VARIANCE_COLUMNS`: stage ``before`` (ratio 1.0, the dense models) or
    ``after``, n (seeds with a value), recall_variance (mean over seeds), above_before (after >
    before: bold in the paper).
    """
    per_seed = _per_seed(alpha, "recall_variance_dense")
    rows = []
    for (d, m, p), cells in itertools.groupby(study_cells, key=lambda c: c[:3]):
        before = _rows(per_seed, d, m, p)["recall_variance_dense"].dropna()
        b = float(before.mean())
        rows.append([d, m, p, "before", 1.0, int(before.size), b, False])
        for *_, r in cells:
            after = _rows(alpha, d, m, p, r)["recall_variance"].dropna()
            v = float(after.mean())
            rows.append([d, m, p, "after", float(r), int(after.size), v, bool(v > b)])
    return pd.DataFrame(rows, columns=RECALL_VARIANCE_COLUMNS)


TRADEOFF_COLUMNS = ["dataset", "model", "method", "label", "ratio", "n_accuracy", "accuracy_mean", "accuracy_se",
                    "n_alpha", "n_nan", "alpha_mean", "alpha_se"]


def tradeoff_data(alpha: pd.DataFrame, family: dict) -> pd.DataFrame:
    """Data of Figure 13 (Appendix E): mean accuracy and mean α with standard errors per ratio.

    One row per group and ratio (columns :data:`TRADEOFF_COLUMNS`), ratio 1.0 first: the accuracy
    before pruning, and α = 1 (no pruning, no intensification; se 0).
    """
    per_seed = _per_seed(alpha, "accuracy_dense")
    rows = []
    for g in layout.groups(family):
        d, m, p = g.key
        dense = _rows(per_seed, d, m, p)["accuracy_dense"].dropna()
        n = int(dense.size)
        rows.append([d, m, p, g.label, 1.0, n, float(dense.mean()), stats.standard_error(dense), n, 0, 1.0, 0.0])
        for r in layout.sorted_ratios(family):
            sel = _rows(alpha, d, m, p, r)
            acc, a = sel["accuracy"].dropna(), sel["alpha"]
            rows.append(
                [d, m, p, g.label, float(r), int(acc.size), float(acc.mean()), stats.standard_error(acc),
                 int(a.notna().sum()), int(a.isna().sum()), float(a.mean()), stats.standard_error(a)]
            )
    return pd.DataFrame(rows, columns=TRADEOFF_COLUMNS)


# --------------------------------------------------------------------------------------------------
# Paper-style tables


@dataclass
class Table:
    """A table ready to write: the CSV frame and its titled, formatted wide view."""

    output: Output
    title: str  # plain text / Markdown, starts with "Table <n>:" when the paper numbers it
    title_tex: str  # LaTeX caption text (without the number)
    data: pd.DataFrame  # written to CSV at full precision
    display: pd.DataFrame  # strings; index = first column, index.name its header
    notes: list[str] = field(default_factory=list)
    bold: pd.DataFrame | None = None  # same shape as display: cells to set in bold
    number_label: str | None = None  # "Table 4" / "Data of Figure 13" / None


def _pvalue_display(long: pd.DataFrame, header: str) -> tuple[pd.DataFrame, list[str]]:
    rows = list(dict.fromkeys(long["row"]))
    cols = list(dict.fromkeys(long["column"]))
    wide = long.pivot(index="row", columns="column", values="p_bonferroni").reindex(index=rows, columns=cols)
    display = wide.map(stats.format_p)
    display.index.name = header
    display.columns.name = None
    notes = [f"{r['row']}, {r['column']}: {r['note']}" for _, r in long.iterrows() if r["note"]]
    m = sorted(set(long["m"]))
    multipliers = ", ".join(str(v) for v in m)
    notes.insert(0, f"Bonferroni multiplier m = {multipliers} (untested rows count; n/a = not tested).")
    return display, notes


def _context(family: dict, method: str | None) -> tuple[str, str]:
    """(' using CIFAR-10 and MP', tex) -- what is constant in a family's table."""
    exps = family["experiments"]
    datasets = list(dict.fromkeys(dataset_label(e["dataset"]) for e in exps))
    models = list(dict.fromkeys(model_label(e["model"]) for e in exps))
    parts = []
    if family["kind"] == "method":
        if len(exps) == 1:
            text = f" on {datasets[0]} at {models[0]}"
            return text, text
        return "", ""
    if family["kind"] == "model" and len(datasets) == 1:
        parts.append(datasets[0])
    if family["kind"] == "dataset" and len(models) == 1:
        parts.append(models[0])
    if method is not None:
        parts.append(method_label(method))
    text = f" using {' and '.join(parts)}" if parts else ""
    return text, text


def _numbered(out: Output, title: str, title_tex: str, long, display, notes) -> Table:
    return Table(out, f"Table {out.number}: {title}", title_tex, long, display, notes, number_label=f"Table {out.number}")


def _ratio_tests_table(out: Output, alpha, family) -> Table:
    long = ratio_tests(alpha, family, out.method)
    sym, words = _dimension(family)
    ctx, ctx_tex = _context(family, out.method)
    display, notes = _pvalue_display(long, "Ratios")
    title = (
        f"p-values for paired-samples t-tests of H0: E[α_ti^{sym}] ≥ E[α_ti+1^{sym}] vs. Ha: E[α_ti^{sym}] < "
        f"E[α_ti+1^{sym}] within each {words} {sym}, for consecutive ratios t_i < t_i+1{ctx}, "
        "Bonferroni-corrected by column."
    )
    title_tex = (
        rf"$p$-values for paired-samples t-tests of $H_0 : \mathbb{{E}}[\alpha_{{t_i}}^{{{sym}}}] \geq "
        rf"\mathbb{{E}}[\alpha_{{t_{{i+1}}}}^{{{sym}}}]$ vs.\ $H_a : \mathbb{{E}}[\alpha_{{t_i}}^{{{sym}}}] < "
        rf"\mathbb{{E}}[\alpha_{{t_{{i+1}}}}^{{{sym}}}]$ within each {words} ${sym}$, for consecutive ratios "
        rf"$t_i < t_{{i+1}}${_tex_escape(ctx_tex)}, Bonferroni-corrected by column."
    )
    return _numbered(out, title, title_tex, long, display, notes)


def _between_tests_table(out: Output, alpha, family) -> Table:
    long = between_tests(alpha, family, out.method)
    ctx, ctx_tex = _context(family, out.method)
    if family["kind"] == "model":
        sym, rel, nrel, header = "M", ">", "≤", "Models"
        what = "consecutive architectures (M_i, M_i+1) in listed order"
        what_tex = r"consecutive architectures $(M_i, M_{i+1})$ in listed order"
        a, b, a_tex, b_tex = "M_i", "M_i+1", "M_i", "M_{i+1}"
    else:
        sym, rel, nrel, header = "D", "<", "≥", "Datasets"
        what = "dataset pairs (D_i, D_j)"
        what_tex = r"dataset pairs $(D_i, D_j)$"
        a, b, a_tex, b_tex = "D_i", "D_j", "D_i", "D_j"
    del sym
    display, notes = _pvalue_display(long, header)
    title = (
        "p-values for independent-samples (Student, pooled variance) t-tests of "
        f"H0: E[α_t^{a}] {nrel} E[α_t^{b}] vs. "
        f"Ha: E[α_t^{a}] {rel} E[α_t^{b}] within each ratio t, for {what}{ctx}, Bonferroni-corrected by column."
    )
    rel_tex, nrel_tex = ("<", r"\geq") if rel == "<" else (">", r"\leq")
    title_tex = (
        r"$p$-values for independent-samples (Student, pooled variance) t-tests of "
        rf"$H_0 : \mathbb{{E}}[\alpha_t^{{{a_tex}}}] "
        rf"{nrel_tex} \mathbb{{E}}[\alpha_t^{{{b_tex}}}]$ vs.\ $H_a : \mathbb{{E}}[\alpha_t^{{{a_tex}}}] {rel_tex} "
        rf"\mathbb{{E}}[\alpha_t^{{{b_tex}}}]$ within each ratio $t$, for {what_tex}{_tex_escape(ctx_tex)}, "
        "Bonferroni-corrected by column."
    )
    return _numbered(out, title, title_tex, long, display, notes)


def _method_pairs_table(out: Output, alpha, family) -> Table:
    long = method_pair_tests(alpha, family)
    ctx, ctx_tex = _context(family, None)
    if family["kind"] == "method":
        header, where, where_tex = "Methods", "within each ratio t", "within each ratio $t$"
        scope = "Bonferroni-corrected by column."
    else:
        sym, words = _dimension(family)
        header = "Rate"
        where, where_tex = f"within each ratio t and {words} {sym}", f"within each ratio $t$ and {words} ${sym}$"
        scope = (
            f"Unlike the other tables, these p-values are Bonferroni-corrected for all {len(long)} comparisons at once."
        )
    method_pairs = itertools.combinations(family["methods"], 2)
    pairs = ", ".join(f"({method_label(a)}, {method_label(b)})" for a, b in method_pairs)
    display, notes = _pvalue_display(long, header)
    title = (
        "p-values for paired-samples t-tests of H0: E[α_t^P_i] = E[α_t^P_j] vs. Ha: E[α_t^P_i] ≠ E[α_t^P_j] "
        f"{where}, "
        f"for the algorithm pairs (P_i, P_j) = {pairs}{ctx}. {scope}"
    )
    title_tex = (
        r"$p$-values for paired-samples t-tests of "
        r"$H_0 : \mathbb{E}[\alpha_t^{P_i}] = \mathbb{E}[\alpha_t^{P_j}]$ vs.\ "
        r"$H_a : \mathbb{E}[\alpha_t^{P_i}] \neq \mathbb{E}[\alpha_t^{P_j}]$ "
        rf"{where_tex}, for the algorithm pairs "
        rf"$(P_i, P_j)$ = {_tex_escape(pairs)}{_tex_escape(ctx_tex)}. {_tex_escape(scope)}"
    )
    return _numbered(out, title, title_tex, long, display, notes)


def _group_label(d: str, m: str, p: str) -> str:
    return f"{dataset_label(d)} @ {model_label(m)} → {method_label(p)}"


def _group_labels(data: pd.DataFrame) -> list[str]:
    return [_group_label(d, m, p) for d, m, p in zip(data["dataset"], data["model"], data["method"])]


def _alpha_ci_table(out: Output, alpha, families) -> Table:
    cells = layout.study_cells(families)
    data = alpha_ci(alpha, cells)
    nan = nan_alpha(alpha, cells)

    def fmt(x, digits=3):
        return "n/a" if not np.isfinite(x) else f"{x:.{digits}f}"

    display = pd.DataFrame(
        {
            "Ratio": [ratio_label(r) for r in data["ratio"]],
            "n": [str(v) for v in data["n"]],
            "Mean α": [fmt(x) for x in data["mean"]],
            "99% CI": [f"[{fmt(lo)}, {fmt(hi)}]" for lo, hi in zip(data["ci_low"], data["ci_high"])],
            "Mark": [v if v else "n/a" for v in data["mark"]],
            "NaN α": [str(v) for v in data["n_nan"]],
        },
        index=pd.Index(_group_labels(data), name="Cell"),
    )
    notes = ["Marks: < CI below 1 (de-intensification), > CI above 1 (intensification), ? CI overlaps 1."]
    notes += [
        f"{_group_label(r.dataset, r.model, r.method)}, t = {ratio_label(r.ratio)}: {r.count} NaN α ({r.alpha_reason})"
        for r in nan.itertuples()
    ]
    title = (
        "99% t-based confidence intervals for E[α_t] in every (dataset, model, method, ratio) cell of the study "
        "(section 6.2, Appendix C, Figures 9-12); NaN α are counted, not used."
    )
    title_tex = (
        r"99\% t-based confidence intervals for $\mathbb{E}[\alpha_t]$ in every (dataset, model, method, ratio) cell "
        r"of the study (section 6.2, Appendix C, Figures 9--12); NaN $\alpha$ are counted, not used."
    )
    return Table(out, title, title_tex, data, display, notes)


def _dense_accuracy_table(out: Output, alpha, families) -> Table:
    data = dense_accuracy(alpha, layout.study_groups(families))
    display = pd.DataFrame(
        {
            "Dataset": [dataset_label(d) for d in data["dataset"]],
            "Pruning Algorithm": [method_label(p) for p in data["method"]],
            "Accuracy": ["n/a" if not np.isfinite(a) else f"{a:.3f}" for a in data["accuracy_dense"]],
            "Seeds": [str(v) for v in data["n"]],
        },
        index=pd.Index([model_label(m) for m in data["model"]], name="Model"),
    )
    title = "Table 10: Mean accuracy before pruning of the models used for each set of experiments."
    return Table(out, title, title[len("Table 10: "):], data, display, number_label="Table 10")


def _recall_variance_table(out: Output, alpha, families) -> Table:
    data = recall_variance(alpha, layout.study_cells(families))
    data = data.assign(label=_group_labels(data))
    data["column"] = [
        "Before" if stage == "before" else f"Ratio {ratio_label(r)}" for stage, r in zip(data["stage"], data["ratio"])
    ]
    cols = ["Before"] + [f"Ratio {ratio_label(r)}" for r in sorted(set(data.loc[data["stage"] == "after", "ratio"]))]
    rows = list(dict.fromkeys(data["label"]))
    values = data.pivot(index="label", columns="column", values="recall_variance").reindex(index=rows, columns=cols)
    bold = data.pivot(index="label", columns="column", values="above_before").reindex(index=rows, columns=cols)
    display = values.map(lambda v: "" if not np.isfinite(v) else f"{v:.4f}")
    display.index.name, display.columns.name = "Model", None
    bold = bold.fillna(False).astype(bool)
    data = data.drop(columns=["label", "column"])
    notes = ["Bold: mean recall variance after pruning greater than before pruning."]
    title = "Table 11: Mean recall variance for each model and pruning ratio considered."
    return Table(out, title, title[len("Table 11: "):], data, display, notes, bold, "Table 11")


def _tradeoff_table(out: Output, alpha, family) -> Table:
    data = tradeoff_data(alpha, family)

    def pm(mean, se, digits=3):
        if not np.isfinite(mean):
            return "n/a"
        return f"{mean:.{digits}f}" + ("" if not np.isfinite(se) else f" ± {se:.{digits}f}")

    display = pd.DataFrame(
        {
            "Ratio": [ratio_label(r) for r in data["ratio"]],
            "Accuracy (± SE)": [pm(a, s) for a, s in zip(data["accuracy_mean"], data["accuracy_se"])],
            "α (± SE)": [pm(a, s) for a, s in zip(data["alpha_mean"], data["alpha_se"])],
            "n": [str(v) for v in data["n_alpha"]],
            "NaN α": [str(v) for v in data["n_nan"]],
        },
        index=pd.Index(list(data["label"]), name="Setting"),
    )
    notes = ["Ratio 1: the model before pruning; its α is 1 by definition (no pruning, no intensification)."]
    title = (
        "Data of Figure 13: mean accuracy and mean intensification α with their standard errors at each pruning "
        "ratio (Appendix E)."
    )
    title_tex = (
        r"Data of Figure 13: mean accuracy and mean intensification $\alpha$ with their standard errors at each "
        r"pruning ratio (Appendix E)."
    )
    return Table(out, title, title_tex, data, display, notes, number_label="Data of Figure 13")


def build_table(output: Output, alpha: pd.DataFrame, families: list[dict]) -> Table:
    """The :class:`Table` of one planned output (see :func:`recall_distortion.analysis.layout.analysis_plan`)."""
    family = next((f for f in families if f["name"] == output.family), None)
    builders = {
        "ratio_tests": _ratio_tests_table,
        "between_tests": _between_tests_table,
        "method_pairs": _method_pairs_table,
        "tradeoff_table": _tradeoff_table,
    }
    if output.kind in builders:
        return builders[output.kind](output, alpha, family)
    study_builders = {
        "alpha_ci": _alpha_ci_table,
        "dense_accuracy": _dense_accuracy_table,
        "recall_variance": _recall_variance_table,
    }
    return study_builders[output.kind](output, alpha, families)


def build_tables(alpha: pd.DataFrame, families: list[dict]) -> list[Table]:
    """Every table of the study's plan, in plan order."""
    return [build_table(o, alpha, families) for o in layout.analysis_plan(families).tables]


# --------------------------------------------------------------------------------------------------
# Writers


_TEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"$<$",
    ">": r"$>$",
    "→": r"$\rightarrow$",
    "α": r"$\alpha$",
    "±": r"$\pm$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "≠": r"$\neq$",
}


def _tex_escape(text: str) -> str:
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in str(text))


def _cells(table: Table) -> tuple[list[str], list[list[str]], list[list[bool]]]:
    header = [table.display.index.name or ""] + [str(c) for c in table.display.columns]
    body = [[str(i)] + [str(v) for v in row] for i, row in zip(table.display.index, table.display.to_numpy())]
    if table.bold is not None:
        bold = [[False] + [bool(b) for b in row] for row in table.bold.to_numpy()]
    else:
        bold = [[False] * len(header) for _ in body]
    return header, body, bold


def _aligns(header: list[str], body: list[list[str]]) -> list[str]:
    """'l' for the first column and for text columns (names), 'r' for numbers, p-values and CIs."""

    def text(values):
        return any(any(ch.isalpha() for ch in v) for v in values if v != "n/a")

    return ["l"] + ["l" if text([row[j] for row in body]) else "r" for j in range(1, len(header))]


def to_markdown(table: Table) -> str:
    """A title line, a pipe table (first column left-aligned, the others right-aligned) and notes."""
    header, body, bold = _cells(table)

    def esc(s):
        return s.replace("|", r"\|")

    if table.number_label is None:
        lines = [f"**{table.title}**", ""]
    else:  # "**Table 4:** p-values ..."
        lines = [f"**{table.number_label}:**{table.title[len(table.number_label) + 1:]}", ""]
    lines.append("| " + " | ".join(esc(h) for h in header) + " |")
    lines.append("|" + "|".join(":---" if a == "l" else "---:" for a in _aligns(header, body)) + "|")
    for row, brow in zip(body, bold):
        lines.append("| " + " | ".join(f"**{esc(c)}**" if b and c else esc(c) for c, b in zip(row, brow)) + " |")
    if table.notes:
        lines += [""] + [f"- {n}" for n in table.notes]
    return "\n".join(lines) + "\n"


def to_latex(table: Table) -> str:
    """A booktabs ``table`` float (needs ``\\usepackage{booktabs,amssymb}``); numbered as in the paper."""
    header, body, bold = _cells(table)
    number = table.number_label.split()[-1] if table.number_label and table.number_label.startswith("Table") else None
    lines = [f"% {table.title}", f"% Generated by recall_distortion.analysis; needs \\usepackage{{booktabs,amssymb}}."]
    lines += [r"\begin{table}[ht]", r"  \centering"]
    if number is not None:  # the caption reads "Table <paper's number>: ..."
        lines.append(rf"  \renewcommand{{\thetable}}{{{number}}}")
    lines.append(rf"  \caption{{{table.title_tex}}}")
    lines.append(rf"  \label{{tab:{table.output.stem}}}")
    lines.append(r"  \begin{tabular}{" + "".join(_aligns(header, body)) + "}")
    lines.append(r"    \toprule")
    lines.append("    " + " & ".join(_tex_escape(h) for h in header) + r" \\")
    lines.append(r"    \midrule")
    for row, brow in zip(body, bold):
        cells = [rf"\textbf{{{_tex_escape(c)}}}" if b and c else _tex_escape(c) for c, b in zip(row, brow)]
        lines.append("    " + " & ".join(cells) + r" \\")
    lines.append(r"    \bottomrule")
    lines.append(r"  \end{tabular}")
    if table.notes:
        lines.append(r"  \par\smallskip\footnotesize")
        lines += [f"  {_tex_escape(n)}\\par" for n in table.notes]
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def to_html(table: Table) -> str:
    """A standalone HTML page of the table (shown inline by the Snakemake report)."""
    header, body, bold = _cells(table)
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        f"<html><head><meta charset='utf-8'><title>{e(table.output.stem)}</title>",
        "<style>body{font-family:sans-serif;max-width:70em}table{border-collapse:collapse}"
        "th,td{padding:2px 10px}.l{text-align:left}.r{text-align:right}"
        "thead{border-top:2px solid #000;border-bottom:1px solid #000}tbody{border-bottom:2px solid #000}</style>",
        "</head><body>",
        f"<p><b>{e(table.title)}</b></p>",
    ]
    aligns = _aligns(header, body)
    parts.append("<table><thead><tr>" + "".join(f"<th class='{a}'>{e(h)}</th>" for h, a in zip(header, aligns)))
    parts.append("</tr></thead><tbody>")
    for row, brow in zip(body, bold):
        cells = [f"<b>{e(c)}</b>" if b and c else e(c) for c, b in zip(row, brow)]
        parts.append("<tr>" + "".join(f"<td class='{a}'>{c}</td>" for c, a in zip(cells, aligns)) + "</tr>")
    parts.append("</tbody></table>")
    if table.notes:
        parts.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in table.notes) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_table(table: Table, directory: str | Path) -> list[Path]:
    """Write ``<directory>/<stem>.{csv,md,tex,html}`` atomically; returns the paths."""
    directory = Path(directory)
    paths = []
    for fmt in layout.TABLE_FORMATS:
        path = directory / f"{table.output.stem}.{fmt}"
        if fmt == "csv":
            text = table.data.to_csv(index=False, float_format="%.17g")
        else:
            text = {"md": to_markdown, "tex": to_latex, "html": to_html}[fmt](table)
        write_text(text, path)
        paths.append(path)
    return paths


def write_tables(alpha: pd.DataFrame, families: list[dict], directory: str | Path) -> list[Path]:
    """Build and write every table of the study into ``directory`` (``results/<study>/tables``)."""
    paths = []
    for table in build_tables(alpha, families):
        log.info("writing %s", table.output.stem)
        paths += write_table(table, directory)
    return paths
