"""Tables render as Markdown, booktabs LaTeX and HTML; the summary's HTML shares the tables' page skeleton."""

from __future__ import annotations

import pandas as pd

from recall_distortion.analysis import render
from recall_distortion.analysis.layout import Output
from recall_distortion.analysis.tables import Table


def small_table() -> Table:
    rows = pd.Index(["2 vs 4", "4 vs 10"], name="Ratios")
    display = pd.DataFrame({"MP": ["<0.001", "0.250"], "UP": ["a|b", "n/a"]}, index=rows)
    bold = pd.DataFrame({"MP": [True, False], "UP": [False, False]})
    return Table(Output("table4_x", "ratio_tests", 4, "x"), "Table 4: p-values & α ≥ 1.", "p-values", pd.DataFrame(),
                 display, ["m = 2"], bold, "Table 4")


def test_markdown_pipe_table_with_bold_and_notes():
    assert render.to_markdown(small_table()) == (
        "**Table 4:** p-values & α ≥ 1.\n\n"
        "| Ratios | MP | UP |\n"
        "|:---|---:|:---|\n"
        "| 2 vs 4 | **<0.001** | a\\|b |\n"
        "| 4 vs 10 | 0.250 | n/a |\n\n"
        "- m = 2\n"
    )


def test_latex_booktabs_numbered_as_in_the_paper():
    tex = render.to_latex(small_table())
    assert r"\renewcommand{\thetable}{4}" in tex and r"\caption{p-values}" in tex and r"\label{tab:table4_x}" in tex
    assert r"\begin{tabular}{lrl}" in tex
    assert r"    2 vs 4 & \textbf{$<$0.001} & a|b \\" in tex
    assert render.tex_escape("α ≥ 1 & 50% of x_i") == r"$\alpha$ $\geq$ 1 \& 50\% of x\_i"


def test_one_page_skeleton_for_tables_and_summary():
    table = render.to_html(small_table())
    summary = render.markdown_to_html("# T\n", "Findings")
    assert table.startswith(render.html_page("table4_x", [])[: -len("</body></html>\n")])
    assert summary == render.html_page("Findings", ["<h1>T</h1>"])
    assert render.HTML_STYLE in table and render.HTML_STYLE in summary
    assert "<td class='r'><b>&lt;0.001</b></td>" in table and "<li>m = 2</li>" in table


def test_markdown_to_html_nests_bullets():
    html = render.markdown_to_html("# T\n\n- a **b**\n    - c\n- d\n\ntext <x>\n")
    assert html.count("<ul>") == 2 and "<b>b</b>" in html and "&lt;x&gt;" in html
