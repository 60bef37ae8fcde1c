"""The findings in words: each of the paper's five conclusions (section 9), tested on this study.

For every conclusion the study's families can test, :func:`build_summary` states whether it holds,
partly holds or does not hold here, and lists the numbers behind the verdict (CIs with their marks,
Bonferroni-corrected p-values); a conclusion no family can test is reported with the reason. The
verdict rules are written into the summary itself:

1. I > 1 at high ratios -- the 99% CI of E[α] at each (dataset, model, method)'s highest ratio
   (if above 4) lies above 1 (RP, the paper's stated exception, is listed apart).
2. Methods differ, UP best -- some method-pair test (Tables 8/9) is significant; UP has a lower mean
   α than MP and at least MP's mean accuracy in most (dataset, model, ratio) cells.
3. More complex tasks, higher I -- each dataset pair of Table 7 is significant at some ratio.
4. Smaller models, higher I -- each model pair of Tables 5/6 is significant at some ratio.
5. De-intensification at t <= 4 -- the 99% CI of E[α] lies below 1 at every ratio t <= 4 (RP apart).

"Holds" when every item meets the rule, "partly holds" when some do, "does not hold" when none does.

No verdict is drawn from a collapsed cell (:mod:`recall_distortion.collapse`, config ``collapse``): its
models no longer classify, so its α says which class they fall back on, not whether pruning widened
the gaps between classes. Each verdict counts the items it could judge ("Holds (3 of 3 judged cells;
1 cell not judged)"): conclusions (1) and (5) leave out collapsed cells, (2b) and (2c) the (dataset,
model, ratio) where UP or MP collapsed, and the test-based (2a), (3), (4) and the ratio trend the tests
that involve a collapsed cell (the tables still show them). A section lists every collapsed cell with
its counts (:func:`recall_distortion.collapse.describe`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recall_distortion import collapse
from recall_distortion.analysis import cells, hypotheses, layout, stats, tables
from recall_distortion.analysis.cells import COLLAPSED_MARK
from recall_distortion.analysis.layout import ratio_key, ratio_label
from recall_distortion.analysis.render import markdown_to_html
from recall_distortion.atomic import write_text
from recall_distortion.columns import SERIES_KEY

# The conclusions' thresholds and the methods they name (paper section 9).
LOW_RATIO_MAX = 4.0  # conclusion (5): de-intensification at t <= 4
REFERENCE_METHOD = "mp"  # the paper's baseline (section 6.1)
PROPOSED_METHOD = "up"  # undecayed pruning (section 3)
RANDOM_METHOD = "rp"  # the paper's exception to intensification (section 6.2)

MARK_WORDS = {
    ">": "> 1 — intensification",
    "<": "< 1 — de-intensification",
    "?": "overlaps 1 — no evidence either way",
    "": "undefined (fewer than 2 α values)",
}


def _num(x: float, digits: int = 3) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _p(p: float) -> str:
    text = stats.format_p(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def _cell(dataset: str, model: str, method: str) -> str:
    return f"{layout.method_label(method)} on {layout.dataset_label(dataset)} @ {layout.model_label(model)}"


def _ci_line(row) -> str:
    text = (
        f"{_cell(row.dataset, row.model, row.method)}, t = {ratio_label(row.ratio)}: E[α] 99% CI "
        f"[{_num(row.ci_low)}, {_num(row.ci_high)}] {MARK_WORDS[row.mark]} (mean {_num(row.mean)}, n = {row.n})"
    )
    return f"{text} {COLLAPSED_MARK} not judged: {collapse.describe(row)}" if row.collapsed else text


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun[:-2] + 'a' if noun.endswith('criterion') else noun + 's'}"


def _verdict(k: int, n: int, not_judged: int = 0, unit: str = "cell") -> str:
    """The verdict on the ``n`` judged items of which ``k`` meet the rule; ``not_judged`` were left out
    because they involve a collapsed cell."""
    if n == 0:
        if not_judged:
            left_out = f"{_plural(not_judged, unit)} not judged: collapsed"
            return f"**Cannot be judged** ({_plural(0, 'judged ' + unit)}; {left_out})"
        return "**Cannot be tested**"
    counts = f"{k} of {_plural(n, 'judged ' + unit)}"
    if not_judged:
        counts += f"; {_plural(not_judged, unit)} not judged"
    word = "Holds" if k == n else "Does not hold" if k == 0 else "Partly holds"
    return f"**{word}** ({counts})"


def _test_tables(
    alpha: pd.DataFrame, families: list[dict], kind: str, share: float, family_kind: str | None = None
) -> list:
    """Long test tables of one kind for every family (optionally of one family kind) that has them."""
    out = []
    for family in families:
        if family_kind is not None and family["kind"] != family_kind:
            continue
        for o in layout.family_plan(family)[0]:
            if o.kind == kind:
                tests = hypotheses.family_tests(alpha, family, o, max_collapsed_share=share)
                out.append(tests.assign(stem=o.stem, method=o.method or ""))
    return out


def _judge_cells(selected: pd.DataFrame, mark: str, nothing: str) -> list[str]:
    """Verdict and lines of a CI conclusion: how many judged cells (not collapsed, not RP) have ``mark``;
    RP's cells listed apart. ``nothing`` says why no cell can test it: (no ratio, only RP)."""
    tested = selected[selected["method"] != RANDOM_METHOD]
    rp = selected[selected["method"] == RANDOM_METHOD]
    if tested.empty:
        return ["", f"{_verdict(0, 0)}: {nothing[0] if selected.empty else nothing[1]}."]
    judged = tested[~tested["collapsed"]]
    k = int((judged["mark"] == mark).sum())
    lines = ["", f"{_verdict(k, len(judged), len(tested) - len(judged))} on this data.", ""]
    lines += [f"- {_ci_line(r)}" for r in tested.itertuples()]
    if not rp.empty:
        lines += ["", "RP (not counted):"] + [f"- {_ci_line(r)}" for r in rp.itertuples()]
    return lines


def _conclusion_high(ci: pd.DataFrame) -> list[str]:
    lines = ["### (1) Intensification, E[α] > 1, at high pruning ratios", ""]
    lines.append(
        "Rule: at the highest ratio of each (dataset, model, method), if above 4, the 99% CI of E[α] lies above 1. "
        "RP is listed apart: the paper reports it as the exception (CIs below 1 at every ratio)."
    )
    top = ci.loc[ci.groupby(SERIES_KEY, sort=False)["ratio"].idxmax()]
    top = top[top["ratio"] > LOW_RATIO_MAX]
    return lines + _judge_cells(top, ">", ("no ratio above 4 in this study", "only RP has ratios above 4"))


def _conclusion_low(ci: pd.DataFrame) -> list[str]:
    lines = [f"### (5) De-intensification, E[α] < 1, at low pruning ratios t ≤ {ratio_label(LOW_RATIO_MAX)}", ""]
    lines.append(
        "Rule: the 99% CI of E[α] lies below 1 at every ratio t ≤ 4 of every (dataset, model, method); RP listed apart."
    )
    low = ci[ci["ratio"] <= LOW_RATIO_MAX]
    return lines + _judge_cells(low, "<", ("no ratio t ≤ 4 in this study", "only RP has ratios t ≤ 4"))


def _test_line(r, sides: str) -> str:
    tag = "significant" if stats.significant(r.p_bonferroni) else "not significant"
    text = f"{r.row}, {r.column}: {_p(r.p_bonferroni)} ({tag}; {sides}; mean α {_num(r.mean_a)} vs {_num(r.mean_b)})"
    if r.note:
        text += f" [{r.note}]"
    if r.collapsed:
        text += f" {COLLAPSED_MARK} not judged: involves a collapsed cell"
    return text


def _conclusion_between(alpha, families, family_kind: str, share: float) -> list[str]:
    if family_kind == "dataset":
        head = "### (3) More complex tasks (datasets) show more intensification"
        rule = (
            "Rule: each dataset pair (D_i, D_j) of Table 7 (H_a: E[α^Di] < E[α^Dj], D_j the more complex) is "
            "significant at some ratio."
        )
        sides, missing = "H_a: E[α^Di] < E[α^Dj]", "no dataset family with two or more datasets in this study"
        unit = "dataset pair"
    else:
        head = "### (4) Smaller models show more intensification"
        rule = (
            "Rule: each consecutive model pair (M_i, M_i+1) of Tables 5/6 (H_a: E[α^Mi] > E[α^Mi+1], M_i the smaller) "
            "is significant at some ratio."
        )
        sides, missing = "H_a: E[α^Mi] > E[α^Mi+1]", "no model family with two or more models in this study"
        unit = "model pair"
    lines = [head, "", rule + " Tests that involve a collapsed cell are not judged."]
    longs = _test_tables(alpha, families, "between_tests", share, family_kind)
    if not longs:
        return lines + ["", f"{_verdict(0, 0)}: {missing}."]
    k = n = skipped = 0
    body = []
    for long in longs:
        for row, sub in long.groupby("row", sort=False):
            judged = sub[~sub["collapsed"]]
            sig = judged[[stats.significant(p) for p in judged["p_bonferroni"]]]
            if judged.empty:
                skipped += 1
                body.append(f"- {row} ({sub['stem'].iloc[0]}): not judged, every ratio involves a collapsed cell")
            else:
                n += 1
                k += int(not sig.empty)
                where = ", ".join(sig["column"]) if not sig.empty else "no judged ratio"
                body.append(f"- {row} ({sub['stem'].iloc[0]}): significant at {where}")
            body += [f"    - {_test_line(r, sides)}" for r in sub.itertuples()]
    return lines + ["", f"{_verdict(k, n, skipped, unit)} on this data.", ""] + body


def _means(alpha: pd.DataFrame, dataset: str, model: str, method: str, ratio: float, column: str) -> float:
    return float(cells.rows(alpha, dataset, model, method, ratio)[column].mean())


def _up_mp_test(pair_tests: pd.DataFrame, dataset: str, model: str, ratio: float):
    """The UP vs MP test row of one (dataset, model, ratio), or None."""
    for row in pair_tests.itertuples():
        if (row.dataset_a, row.model_a) == (dataset, model) and ratio_key(row.ratio_a) == ratio_key(ratio) and {
            row.method_a,
            row.method_b,
        } == {PROPOSED_METHOD, REFERENCE_METHOD}:
            return row
    return None


def _conclusion_methods(alpha, families, ci: pd.DataFrame, share: float) -> list[str]:
    lines = ["### (2) Pruning methods differ, UP performs best", ""]
    lines.append(
        "Rule: (a) some two-sided method-pair test (Tables 8/9) is significant; (b) UP has a lower mean α than MP in "
        "most (dataset, model, ratio) cells pruned with both; (c) UP's mean accuracy after pruning is at least MP's in "
        "most of those cells. Tests that involve a collapsed cell, and cells where UP or MP collapsed, are not judged."
    )
    longs = _test_tables(alpha, families, "method_pairs", share)
    criteria = []
    not_judged = 0
    body = []
    if longs:
        allt = pd.concat(longs, ignore_index=True)
        judged = allt[~allt["collapsed"]]
        sig = judged[[stats.significant(p) for p in judged["p_bonferroni"]]]
        stems = ", ".join(dict.fromkeys(allt["stem"]))
        skipped = (
            f"; {_plural(len(allt) - len(judged), 'test')} not judged: collapsed" if len(judged) < len(allt) else ""
        )
        if judged.empty:
            not_judged += 1
            body.append(f"- (a) not judged: every one of the {len(allt)} method-pair tests involves a collapsed cell.")
        else:
            criteria.append(not sig.empty)
            body.append(
                f"- (a) {len(sig)} of {_plural(len(judged), 'judged method-pair test')} significant{skipped} ({stems})."
            )
        for r in sig.head(12).itertuples():
            body.append(f"    - {r.stem}: {_test_line(r, 'two-sided')}")
        if len(sig) > 12:
            body.append(f"    - ... and {len(sig) - 12} more (see the tables).")
    else:
        body.append("- (a) not tested: no family prunes the same models with two or more methods (no Table 8/9).")
    study_cells = set(layout.study_cells(families))
    both = [
        (dataset, model, ratio)
        for dataset, model, method, ratio in layout.study_cells(families)
        if method == PROPOSED_METHOD and (dataset, model, REFERENCE_METHOD, ratio) in study_cells
    ]
    state = ci.assign(rk=[ratio_key(r) for r in ci["ratio"]]).set_index(SERIES_KEY + ["rk"])
    if both:
        less = acc = n = 0
        rows = []
        pair_tests = pd.concat(longs, ignore_index=True) if longs else pd.DataFrame(columns=hypotheses.TEST_COLUMNS)
        for dataset, model, ratio in both:
            where = f"{layout.dataset_label(dataset)} @ {layout.model_label(model)}, t = {ratio_label(ratio)}"
            fallen = [
                f"{layout.method_label(p)} {collapse.describe(state.loc[(dataset, model, p, ratio_key(ratio))])}"
                for p in (PROPOSED_METHOD, REFERENCE_METHOD)
                if state.loc[(dataset, model, p, ratio_key(ratio)), "collapsed"]
            ]
            if fallen:
                rows.append(f"    - {where}: {COLLAPSED_MARK} not judged: {'; '.join(fallen)}")
                continue
            n += 1
            a_up, c_up = (_means(alpha, dataset, model, PROPOSED_METHOD, ratio, c) for c in ("alpha", "accuracy"))
            a_mp, c_mp = (_means(alpha, dataset, model, REFERENCE_METHOD, ratio, c) for c in ("alpha", "accuracy"))
            less += int(a_up < a_mp)
            acc += int(c_up >= c_mp)
            test = _up_mp_test(pair_tests, dataset, model, ratio)
            ptext = f"; UP vs MP {_p(test.p_bonferroni)} ({test.stem})" if test is not None else ""
            rows.append(
                f"    - {where}: mean α UP {_num(a_up)} vs MP {_num(a_mp)}; mean accuracy UP {_num(c_up)} vs MP "
                f"{_num(c_mp)}{ptext}"
            )
        skipped = f"; {_plural(len(both) - n, 'cell')} not judged: UP or MP collapsed" if n < len(both) else ""
        if n:
            criteria += [less * 2 > n, acc * 2 > n]
            body.append(f"- (b) UP's mean α below MP's in {less} of {_plural(n, 'judged cell')}{skipped}.")
            body.append(f"- (c) UP's mean accuracy at least MP's in {acc} of {_plural(n, 'judged cell')}{skipped}.")
        else:
            not_judged += 2
            body.append(f"- (b), (c) not judged: UP or MP collapsed in every one of the {len(both)} cells.")
        body += rows
    else:
        body.append("- (b), (c) not tested: no (dataset, model, ratio) is pruned with both UP and MP in this study.")
    k = sum(criteria)
    if not criteria and not not_judged:
        verdict = f"{_verdict(0, 0)}: no family with two or more methods, and no model pruned with both UP and MP."
    else:
        verdict = f"{_verdict(k, len(criteria), not_judged, 'criterion')} on this data."
    return lines + ["", verdict, ""] + body


def _not_judged(sub: pd.DataFrame) -> str:
    """'; 1 test not judged (50 vs 100: collapsed)' for the tests of ``sub`` that involve a collapsed cell."""
    fallen = sub[sub["collapsed"]]
    if fallen.empty:
        return ""
    return f"; {_plural(len(fallen), 'test')} not judged ({', '.join(fallen['row'])}: collapsed)"


def _ratio_trend(alpha, families, share: float) -> list[str]:
    lines = ["### Intensification grows with the pruning ratio (section 7.1, Tables 1-4)", ""]
    longs = _test_tables(alpha, families, "ratio_tests", share)
    if not longs:
        return lines + ["Not tested: no family has two or more ratios."]
    allt = pd.concat(longs, ignore_index=True)
    judged = allt[~allt["collapsed"]]
    sig = [stats.significant(p) for p in judged["p_bonferroni"]]
    skipped = len(allt) - len(judged)
    tail = f"; {_plural(skipped, 'test')} not judged: collapsed" if skipped else ""
    lines.append(
        f"{sum(sig)} of {_plural(len(judged), 'judged one-sided paired test')} of E[α_ti] < E[α_ti+1] "
        f"significant{tail}:"
    )
    lines.append("")
    for (stem, column), sub in allt.groupby(["stem", "column"], sort=False):
        usable = sub[~sub["collapsed"]]
        ok = usable[[stats.significant(p) for p in usable["p_bonferroni"]]]
        rows = ", ".join(f"{r.row} ({_p(r.p_bonferroni)})" for r in ok.itertuples()) or "none"
        lines.append(f"- {stem}, {column}: {len(ok)} of {len(usable)} — {rows}{_not_judged(sub)}")
    return lines


def intensification_onset(series: pd.DataFrame) -> float | None:
    """The lowest ratio from which every judged (not collapsed) cell of a series up to its highest ratio
    has its 99% CI of E[α] above 1 (mark ``>``); None when the highest judged cell's CI does not. Collapsed
    cells are skipped, never counted for or against (``series``: alpha_ci rows, one series)."""
    judged = series[~series["collapsed"]].sort_values("ratio")
    onset = None
    for row in judged[::-1].itertuples():
        if row.mark != ">":
            break
        onset = float(row.ratio)
    return onset


def _modern_methods(families, ci: pd.DataFrame) -> list[str]:
    """Appendix H: does intensification (E[α] > 1) appear past some ratio with LTH and channel pruning?"""
    modern = [f for f in families if f["kind"] in layout.MODERN_TABLE_NUMBERS]
    if not modern:
        return []
    lines = ["### Modern pruning methods: intensification past a ratio (Appendix H, Tables 12 and 13)", ""]
    lines.append(
        "Rule: from some ratio on, every judged ratio of the series up to its highest has its 99% CI of E[α] above 1, "
        "as Appendix H found for LTH (from level 12, t = 14.55) and CHIP (t = 19.11). Collapsed cells are not judged."
    )
    lines.append("")
    for family in modern:
        for g in layout.groups(family):
            own = {layout.ratio_key(r) for r in family["ratios"]}
            series = cells.rows(ci, *g.key)
            series = series[[layout.ratio_key(r) in own for r in series["ratio"]]]
            onset = intensification_onset(series)
            fallen = int(series["collapsed"].sum())
            marks = ", ".join(f"{ratio_label(round(r.ratio, 2))}{r.mark or '·'}{COLLAPSED_MARK if r.collapsed else ''}"
                              for r in series.sort_values("ratio").itertuples())
            tail = f"; {_plural(fallen, 'ratio')} not judged: collapsed" if fallen else ""
            if len(series) == fallen:
                verdict = "**Cannot be judged** (every ratio collapsed)"
            elif onset is None:
                verdict = "**Does not hold**: the CI at the highest judged ratio does not lie above 1"
            else:
                verdict = f"**Holds** from t = {ratio_label(round(onset, 2))} on"
            lines.append(f"- {family['name']}, {_cell(*g.key)}: {verdict}{tail} (marks by ratio: {marks})")
    return lines + [""]


def _recall_variance(alpha, families, ci: pd.DataFrame) -> list[str]:
    rv = tables.recall_variance_table(alpha, layout.study_cells(families))
    after = rv[rv["stage"] == "after"].reset_index(drop=True)
    fallen = ci["collapsed"].to_numpy()  # same cells in the same order (layout.study_cells)
    judged = after[~fallen]
    text = (
        "Mean recall variance after pruning exceeds the variance before pruning in "
        f"{int(judged['above_before'].sum())} "
        f"of {len(judged)} (dataset, model, method, ratio) cells that did not collapse"
    )
    if fallen.any():
        text += f" (and in {int(after.loc[fallen, 'above_before'].sum())} of the {int(fallen.sum())} collapsed cells)"
    return ["### Recall variance (Appendix F, Table 11)", "", text + "."]


def _collapsed_section(ci: pd.DataFrame, share: float) -> list[str]:
    """Every cell the summary could not judge, and why, in words with numbers."""
    lines = ["## Cells not judged (collapsed models)", ""]
    share_words = "any" if share == 0 else f"more than {share:.0%}"
    lines.append(
        "A pruned model has collapsed when it keeps less than collapse.min_retained (default 0.5) of its dense "
        "model's accuracy above chance, (A_t - 1/C) / (A - 1/C) (recall_distortion.collapse); a cell is not judged "
        f"when {share_words} of its models collapsed. Its α says which class the models fall back on, not whether "
        "pruning widened the gaps between classes. The tables and CIs keep every model and mark these cells "
        f"{COLLAPSED_MARK}; no verdict below is drawn from them."
    )
    lines.append("")
    flagged = ci[ci["collapsed"]]
    if flagged.empty:
        return lines + ["No cell collapsed: every cell was judged."]
    lines.append(f"{_plural(len(flagged), 'cell')} of {len(ci)} not judged:")
    lines.append("")
    return lines + [
        f"- {_cell(r.dataset, r.model, r.method)}, t = {ratio_label(r.ratio)}: {collapse.describe(r)}"
        for r in flagged.itertuples()
    ]


def _data_section(alpha, families, ci, nan) -> list[str]:
    lines = ["## Data", ""]
    seeds = sorted(set(alpha["seed"]))
    lines.append(
        f"{len(alpha)} rows in alpha.parquet; {len(ci)} (dataset, model, method, ratio) cells in {len(families)} "
        f"families; {len(seeds)} seeds{f' ({seeds[0]}-{seeds[-1]})' if seeds else ''}."
    )
    lines.append("")
    for f in families:
        exps = ", ".join(
            f"{layout.dataset_label(e['dataset'])} @ {layout.model_label(e['model'])}" for e in f["experiments"]
        )
        methods = ", ".join(layout.method_label(p) for p in f["methods"])
        ratios = ", ".join(ratio_label(r) for r in layout.sorted_ratios(f))
        lines.append(f"- family `{f['name']}` (kind {f['kind']}): {exps}; methods {methods}; ratios {ratios}")
    lines += ["", "### NaN α (undefined; counted, never dropped silently)", ""]
    n_nan = int(ci["n_nan"].sum())
    if n_nan == 0:
        lines.append("No α is NaN in the study's cells.")
    else:
        lines.append(
            f"{n_nan} α values are NaN; CIs and tests use the remaining values (paired tests: seeds with both values):"
        )
        lines.append("")
        for r in nan.itertuples():
            where = f"{_cell(r.dataset, r.model, r.method)}, t = {ratio_label(r.ratio)}"
            lines.append(f"- {where}: {r.count} × {r.alpha_reason}")
    missing = ci[(ci["n"] == 0) & (ci["n_nan"] == 0)]
    if len(missing):
        lines += ["", "Cells with no α row at all:", ""]
        lines += [f"- {_cell(r.dataset, r.model, r.method)}, t = {ratio_label(r.ratio)}" for r in missing.itertuples()]
    few = ci[(ci["n"] < 2) & ~((ci["n"] == 0) & (ci["n_nan"] == 0))]
    if len(few):
        lines += ["", "Cells with fewer than 2 usable α (no CI, mark n/a):", ""]
        lines += [
            f"- {_cell(r.dataset, r.model, r.method)}, t = {ratio_label(r.ratio)}: n = {r.n}" for r in few.itertuples()
        ]
    return lines


def build_summary(alpha: pd.DataFrame, families: list[dict], title: str | None = None, beyond: list[str] | None = None,
                  *, max_collapsed_share: float) -> str:
    """The findings summary (Markdown) of a study from its alpha table and families; no verdict is
    drawn from a cell where more than ``max_collapsed_share`` of the models collapsed (config ``collapse``).
    ``beyond``: the lines of the section beyond α (:func:`.forgetting_summary.beyond_alpha`), placed
    before the list of outputs not produced."""
    share = max_collapsed_share
    study_cells = layout.study_cells(families)
    ci = cells.alpha_ci(alpha, study_cells, max_collapsed_share=share)
    nan = cells.nan_alpha(alpha, study_cells)
    plan = layout.analysis_plan(families)
    lines = [f"# {title or 'Findings'}", ""]
    lines.append(
        "Each of the paper's five conclusions (section 9) tested on this study's data. CIs are 99% t-based CIs of "
        "E[α] over seeds (section 6.2); a test is significant when its Bonferroni-corrected p-value is below 0.05. "
        "Verdicts: **Holds** when every judged item meets the rule, **Partly holds** when some do, **Does not hold** "
        "when none does, **Cannot be judged** when every item involves a collapsed cell; each says how many items it "
        "judged and how many it left out."
    )
    lines += [""] + _data_section(alpha, families, ci, nan)
    lines += [""] + _collapsed_section(ci, share)
    lines += ["", "## The paper's conclusions on this data", ""]
    lines += _conclusion_high(ci) + [""]
    lines += _conclusion_methods(alpha, families, ci, share) + [""]
    lines += _conclusion_between(alpha, families, "dataset", share) + [""]
    lines += _conclusion_between(alpha, families, "model", share) + [""]
    lines += _conclusion_low(ci) + [""]
    lines += ["## Further results", ""]
    lines += _ratio_trend(alpha, families, share) + [""]
    lines += _recall_variance(alpha, families, ci) + [""]
    lines += _modern_methods(families, ci)
    lines += (beyond + [""]) if beyond else []
    lines += ["## Tables and figures not produced", ""]
    lines += [f"- {n}" for n in plan.notes] if plan.notes else ["Every table and figure of the families was produced."]
    return "\n".join(lines) + "\n"


def write_summary(
    alpha: pd.DataFrame, families: list[dict], md_path, html_path=None, title: str | None = None, beyond=None, *,
    max_collapsed_share: float,
) -> str:
    """Write summary.md (and its HTML rendering for the report) atomically; returns the Markdown."""
    text = build_summary(alpha, families, title, beyond, max_collapsed_share=max_collapsed_share)
    write_text(text, md_path)
    if html_path is not None:
        write_text(markdown_to_html(text, title or "Findings"), html_path)
    return text
