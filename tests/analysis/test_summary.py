"""The findings summary states each conclusion with its numbers, or why it cannot be tested or judged (a
collapsed cell is never judged; the summary names it with its counts)."""

from __future__ import annotations

import re

import numpy as np

from recall_distortion.analysis.summary import build_summary, write_summary
from tests.analysis.synthetic import FAMILIES, collapse_cell, make_alpha


def _section(text: str, number: int) -> str:
    start = text.index(f"### ({number})")
    end = text.find("\n### ", start + 1)
    return text[start:end]


def test_planted_study_supports_all_five_conclusions(alpha):
    text = build_summary(alpha, FAMILIES, "Findings of study synthetic", max_collapsed_share=0.0)
    assert text.startswith("# Findings of study synthetic")
    for n in range(1, 6):
        assert "**Holds**" in _section(text, n), _section(text, n)
    one = _section(text, 1)
    assert re.search(r"MP on CIFAR-10 @ ResNet-56, t = 50: E\[α\] 99% CI \[1\.\d+, 1\.\d+\] > 1 — intensification", one)
    assert "RP (not counted)" in one
    assert "UP's mean α below MP's in 17 of 17 judged cells." in _section(text, 2)
    assert "MNIST vs CIFAR-10 (table7_tasks_mp): significant at t = 10, t = 20, t = 50" in _section(text, 3)
    assert "ResNet-20 vs ResNet-32 (table5_sizes_mp)" in _section(text, 4)
    assert "t = 2: E[α] 99% CI" in _section(text, 5) and "< 1 — de-intensification" in _section(text, 5)
    assert "No α is NaN" in text
    assert "family 'tasks' has one method (MP): no Table 9" in text


def test_reversed_effects_do_not_hold():
    alpha = make_alpha()
    alpha["alpha"] = 2.0 - alpha["alpha"]  # intensification at low t, de-intensification at high t
    text = build_summary(alpha, FAMILIES, max_collapsed_share=0.0)
    assert "**Does not hold**" in _section(text, 1)
    assert "**Does not hold**" in _section(text, 5)


def test_no_effect_does_not_hold():
    alpha = make_alpha()
    alpha["alpha"] = 1.0 + np.random.default_rng(3).normal(0, 0.05, len(alpha))  # E[α] = 1 everywhere
    text = build_summary(alpha, FAMILIES, max_collapsed_share=0.0)
    for n in (1, 3, 4, 5):
        assert "**Does not hold**" in _section(text, n), _section(text, n)


def test_one_method_family_cannot_test_comparisons_and_says_why(tmp_path):
    family = {"name": "solo", "kind": "method", "experiments": [{"dataset": "cifar10", "model": "resnet56"}],
              "methods": ["mp"], "ratios": [2, 4, 10]}
    alpha = make_alpha([family], seeds=10)
    hit = (alpha.ratio == 10) & (alpha.seed < 2)
    alpha.loc[hit, "alpha"] = np.nan
    alpha.loc[hit, "alpha_reason"] = "accuracy after pruning is 0: B̄_t undefined"
    text = write_summary(alpha, [family], tmp_path / "summary.md", tmp_path / "summary.html", max_collapsed_share=0.0)
    assert (tmp_path / "summary.md").read_text() == text
    assert "<h3>" in (tmp_path / "summary.html").read_text()
    assert "family 'solo' has one method (MP): no Table 8 (method pairs)" in text
    assert "**Cannot be tested**" in _section(text, 2)
    assert "no dataset family with two or more datasets" in _section(text, 3)
    assert "no model family with two or more models" in _section(text, 4)
    assert "MP on CIFAR-10 @ ResNet-56, t = 10: 2 × accuracy after pruning is 0: B̄_t undefined" in text
    assert "n = 8)" in _section(text, 1)  # the CI uses the 8 defined α



def test_a_collapsed_cell_cannot_be_judged_rather_than_fail():
    """The study's only MP cell above t = 4 collapsed: conclusion (1) cannot be judged, it does not 'not hold'."""
    family = {"name": "solo", "kind": "method", "experiments": [{"dataset": "cifar10", "model": "resnet56"}],
              "methods": ["mp"], "ratios": [2, 4, 10]}
    alpha = collapse_cell(make_alpha([family], seeds=10), ("cifar10", "resnet56", "mp", 10.0), 7)
    text = build_summary(alpha, [family], max_collapsed_share=0.0)
    one = _section(text, 1)
    assert "**Cannot be judged** (0 judged cells; 1 cell not judged: collapsed)" in one
    assert "Does not hold" not in one
    cell = alpha[alpha.ratio == 10]
    why = (
        f"7 of 10 models collapsed (mean accuracy {cell.accuracy.mean():.2f} vs {cell.accuracy_dense.mean():.2f} dense)"
    )
    assert f"- MP on CIFAR-10 @ ResNet-56, t = 10: {why}" in text  # the section of cells not judged
    assert "1 cell of 3 not judged" in text
    assert f"† not judged: {why}" in one  # its CI is still shown
    assert "**Holds** (2 of 2 judged cells)" in _section(text, 5)
    trend = text[text.index("### Intensification grows"):]
    assert "1 of 1 judged one-sided paired test of E[α_ti] < E[α_ti+1] significant; 1 test not judged" in trend
    assert "4 vs 10: collapsed" in trend
    # with a tolerated share of 0.8 of the models, the cell (0.7) is judged: its CI lies below 1
    tolerant = build_summary(alpha, [family], max_collapsed_share=0.8)
    assert "**Does not hold** (0 of 1 judged cell)" in _section(tolerant, 1)
    assert "No cell collapsed: every cell was judged." in tolerant


def test_verdicts_count_the_judged_cells_and_tests():
    alpha = collapse_cell(make_alpha(), ("cifar10", "resnet56", "mp", 50.0), 27)
    text = build_summary(alpha, FAMILIES, max_collapsed_share=0.0)
    assert "**Holds** (8 of 8 judged cells; 1 cell not judged)" in _section(text, 1)
    two = _section(text, 2)
    # 17 (dataset, model, ratio) pruned with both UP and MP; at ResNet-56, t = 50 MP collapsed
    assert "(b) UP's mean α below MP's in 16 of 16 judged cells; 1 cell not judged: UP or MP collapsed." in two
    assert "CIFAR-10 @ ResNet-56, t = 50: † not judged: MP 27 of 30 models collapsed" in two
    assert "4 tests not judged: collapsed" in two  # MP vs GP, UP, RP at t = 50 (Table 8); t = 50 at ResNet-56 (Table 9)
    three = _section(text, 3)
    assert "**Holds** (2 of 2 judged dataset pairs)" in three
    assert "MNIST vs CIFAR-10 (table7_tasks_mp): significant at t = 10, t = 20\n" in three  # t = 50 involves MP 50
    assert "† not judged: involves a collapsed cell" in three
    # the same study without the collapse: nothing is left out
    clean = build_summary(make_alpha(), FAMILIES, max_collapsed_share=0.0)
    assert "**Holds** (9 of 9 judged cells)" in _section(clean, 1) and "† not judged" not in clean
