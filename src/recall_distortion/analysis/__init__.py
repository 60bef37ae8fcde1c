"""Statistical analysis of a study: every table and figure of the paper, and a findings summary.

Everything is computed from ``results/<study>/alpha.parquet`` (and ``recall.parquet`` for the scatter
plots) plus the config's ``families`` (paper section 6); see docs/CONTRACTS.md for both tables.

What is where:

- ``layout``      which outputs a study's families call for and their file names (:func:`analysis_plan`,
                  :func:`expected_outputs`), group labels. Light: the Snakefile imports it.
- ``stats``       99% t-based CIs and their ``<``/``>``/``?`` marks, paired and independent (Student) one-
                  or two-sided t-tests via pingouin, Bonferroni (section 6.2, section 7).
- ``cells``       per-cell access to the alpha table and the 99% CIs of E[α] per cell (section 6.2).
- ``hypotheses``  the family hypothesis tests of Tables 1-9 with their Bonferroni scopes (section 7,
                  Appendix A).
- ``tables``      one builder per planned table (long DataFrames, written to CSV at full precision) and
                  its paper-style view (Appendix A, D, E, F).
- ``render``      Markdown, LaTeX (booktabs) and HTML renderers of the tables and the summary.
- ``figures``     plotnine boxplots, scatter matrices, CI plots and the accuracy/α trade-off (PNG + PDF).
- ``summary``     the paper's five conclusions (section 9) tested on the study, in words with numbers.

Beyond α, from ``predictions.parquet`` and ``recall.parquet`` (what pruning forgets):

- ``pie``, ``class_tests``, ``confusion``, ``disparity``, ``noise_floor``  the analyses of Hooker et al.
                  2019 (PIE, per-class Welch tests), the confusion change, Tran et al. 2022's disparity
                  and the binomial noise floor of α.
- ``forgetting``  their tables per family (and :class:`~.forgetting.StudyAnalyses`, each computed once).
- ``forgetting_figures``  the PIE image grid, the confusion-change heatmap, recall change vs dense recall.
- ``forgetting_summary``  the summary's section "Beyond α: what pruning forgets".

File naming (under ``results/<study>/``; ``<f>`` the family name, ``<p>`` a method such as ``mp``;
the number is the paper's table/figure number; figures as ``.png`` and ``.pdf`` under ``figures/``,
tables as ``.csv``, ``.md``, ``.tex`` and ``.html`` under ``tables/``):

- kind ``method``: ``figure1_<f>`` (boxplots), ``figure5_<f>`` (scatter), ``figure9_<f>`` (CIs);
  ``table4_<f>`` (ratio tests), ``table8_<f>`` (method pairs, if >= 2 methods).
- kind ``model``, per method: ``figure2_<f>_<p>``, ``figure6_<f>_<p>``, ``figure10_<f>_<p>``,
  ``table1_<f>_<p>`` (ratio tests), ``table5_<f>_<p>`` (model sizes, if >= 2 models) -- for UP the
  paper's UP numbers ``figure4/8/12`` and ``table2/6``; ``table9_<f>`` (method pairs, >= 2 methods).
- kind ``dataset``, per method: ``figure3_<f>_<p>``, ``figure7_<f>_<p>``, ``figure11_<f>_<p>``,
  ``table3_<f>_<p>``, ``table7_<f>_<p>`` (dataset pairs, if >= 2 datasets); ``table9_<f>`` (>= 2 methods).
- kind ``tradeoff``: ``figure13_<f>`` and its data ``tables/figure13_<f>``.
- kinds ``iterative`` and ``structured`` (Appendix H): ``tables/table12_<f>`` / ``tables/table13_<f>``
  (accuracy, α and the 99% CI of E[α] per LTH level / structured ratio) and ``figures/accuracy_alpha_<f>``.
- every study: ``tables/alpha_ci``, ``tables/table10`` (dense accuracy), ``tables/table11`` (recall
  variance).
- beyond α, kinds ``method``, ``model``, ``dataset``: ``tables/pie_<f>``, ``tables/class_tests_<f>``,
  ``tables/absorption_<f>``, ``tables/disparity_<f>``; ``figures/pie_images_<f>``, ``figures/confusion_<f>``,
  ``figures/recall_change_<f>``.

plus ``summary.md`` (and ``summary.html`` for the Snakemake report). Boxplots, scatter and CI
figures 1-12 follow the paper's captions: 1/5/9 vary the method, 2/6/10 (MP) and 4/8/12 (UP) the
model, 3/7/11 the dataset; Tables 1-4 are ratio tests, 5-7 model / dataset tests, 8-9 method tests.
A comparison a family cannot make (one method, one model, one dataset, one ratio) has no file, and
the summary says so.

``alpha_ci.csv`` columns: dataset, model, method, ratio, n, mean, ci_low, ci_high, mark, n_nan, then
the cell's collapse counts n_models, n_collapsed, accuracy_mean, accuracy_dense_mean, retained_mean,
collapsed; in the workflow also alpha_sd, alpha_sd_noise, alpha_sd_resampled, noise_draws,
noise_note (the noise floor). The test tables' CSVs are long (one row per test, uncorrected and corrected p-values, the
Bonferroni multiplier ``bonferroni_factor``, a note and ``collapsed``); see :mod:`.hypotheses`.

Collapse (:mod:`recall_distortion.collapse`, config ``collapse``): the tables and CIs keep every model;
a collapsed cell is marked ``†`` in the tables, grey and ``†`` in the figures (whose y ranges follow the
cells that did not collapse), and the summary draws no verdict from it. Every writer takes
``max_collapsed_share`` (the config's ``collapse.max_collapsed_share``) as a keyword.
"""

from __future__ import annotations

from recall_distortion.analysis.layout import analysis_plan, expected_outputs

__all__ = ["analysis_plan", "expected_outputs"]

