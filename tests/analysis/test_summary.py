"""The findings summary states each conclusion with its numbers, or why it cannot be tested."""

from __future__ import annotations

import re

import numpy as np

from recall_distortion.analysis.summary import build_summary, write_summary
from tests.analysis.synthetic import FAMILIES, make_alpha


def _section(text: str, number: int) -> str:
    start = text.index(f"### ({number})")
    end = text.find("\n### ", start + 1)
    return text[start:end]


def test_planted_study_supports_all_five_conclusions(alpha):
    text = build_summary(alpha, FAMILIES, "Findings of study synthetic")
    assert text.startswith("# Findings of study synthetic")
    for n in range(1, 6):
        assert "**Holds**" in _section(text, n), _section(text, n)
    one = _section(text, 1)
    assert re.search(r"MP on CIFAR-10 @ ResNet-56, t = 50: E\[α\] 99% CI \[1\.\d+, 1\.\d+\] > 1 — intensification", one)
    assert "RP (not counted)" in one
    assert "UP's mean α below MP's in 17 of 17 cells" in _section(text, 2)
    assert "MNIST vs CIFAR-10 (table7_tasks_mp): significant at t = 10, t = 20, t = 50" in _section(text, 3)
    assert "ResNet-20 vs ResNet-32 (table5_sizes_mp)" in _section(text, 4)
    assert "t = 2: E[α] 99% CI" in _section(text, 5) and "< 1 — de-intensification" in _section(text, 5)
    assert "No α is NaN" in text
    assert "family 'tasks' has one method (MP): no Table 9" in text


def test_reversed_effects_do_not_hold():
    alpha = make_alpha()
    alpha["alpha"] = 2.0 - alpha["alpha"]  # intensification at low t, de-intensification at high t
    text = build_summary(alpha, FAMILIES)
    assert "**Does not hold**" in _section(text, 1)
    assert "**Does not hold**" in _section(text, 5)


def test_no_effect_does_not_hold():
    alpha = make_alpha()
    alpha["alpha"] = 1.0 + np.random.default_rng(3).normal(0, 0.05, len(alpha))  # E[α] = 1 everywhere
    text = build_summary(alpha, FAMILIES)
    for n in (1, 3, 4, 5):
        assert "**Does not hold**" in _section(text, n), _section(text, n)


def test_one_method_family_cannot_test_comparisons_and_says_why(tmp_path):
    family = {"name": "solo", "kind": "method", "experiments": [{"dataset": "cifar10", "model": "resnet56"}],
              "methods": ["mp"], "ratios": [2, 4, 10]}
    alpha = make_alpha([family], seeds=10)
    hit = (alpha.ratio == 10) & (alpha.seed < 2)
    alpha.loc[hit, "alpha"] = np.nan
    alpha.loc[hit, "alpha_reason"] = "accuracy after pruning is 0: B̄_t undefined"
    text = write_summary(alpha, [family], tmp_path / "summary.md", tmp_path / "summary.html")
    assert (tmp_path / "summary.md").read_text() == text
    assert "<h3>" in (tmp_path / "summary.html").read_text()
    assert "family 'solo' has one method (MP): no Table 8 (method pairs)" in text
    assert "**Cannot be tested**" in _section(text, 2)
    assert "no dataset family with two or more datasets" in _section(text, 3)
    assert "no model family with two or more models" in _section(text, 4)
    assert "MP on CIFAR-10 @ ResNet-56, t = 10: 2 × accuracy after pruning is 0: B̄_t undefined" in text
    assert "n = 8)" in _section(text, 1)  # the CI uses the 8 defined α

