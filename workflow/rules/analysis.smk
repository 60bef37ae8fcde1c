# Tables, figures and the findings summary of a study (paper section 6.2, section 7, appendices A-F).
# Which files exist depends on the families: recall_distortion.analysis.layout plans them, and the
# same plan drives the package's writers, so the rules and the package always agree on file names.
include: "analysis_files.smk"


rule analysis_tables:
    """Every table: alpha_ci (with the noise floor of α), Tables 1-11 that the families call for, the data of
    Figure 13."""
    input:
        alpha=f"{RESULTS}/alpha.parquet",
        recall=f"{RESULTS}/recall.parquet",
    output:
        rule_files(ANALYSIS_PLAN.tables, RESULTS, "Tables"),
    log:
        f"{RESULTS}/logs/analysis_tables.log",
    conda:
        ENV
    params:
        families=FAMILIES,
        max_collapsed_share=config["collapse"]["max_collapsed_share"],
        analysis=noise_floor_options(),
        code=script_code("analysis_tables"),
    script:
        "../scripts/analysis_tables.py"


rule analysis_figures:
    """One figure (PNG + PDF) of a family: boxplots, scatter matrix, CIs or the trade-off (Figures 1-13).

    One job per figure rather than per family: the files a family gets depend on its kind and methods,
    which fixed output patterns of a {family} rule cannot express; per figure they are one pattern.
    """
    input:
        alpha=f"{RESULTS}/alpha.parquet",
        recall=f"{RESULTS}/recall.parquet",
    output:
        png=report(
            f"{RESULTS}/figures/{{figure}}.png",
            caption="../report/figures.rst",
            category="Figures",
            subcategory=partial(figure_family_name, FAMILIES),
            labels=partial(figure_labels, FAMILIES),
        ),
        pdf=f"{RESULTS}/figures/{{figure}}.pdf",
    log:
        f"{RESULTS}/logs/analysis_figures/{{figure}}.log",
    wildcard_constraints:
        figure=figure_pattern(FAMILIES),
    conda:
        ENV
    params:
        figure=partial(figure_spec, FAMILIES),
        max_collapsed_share=config["collapse"]["max_collapsed_share"],
        code=script_code("analysis_figures"),
    script:
        "../scripts/analysis_figures.py"


rule analysis_summary:
    """The paper's five conclusions tested on this study, in words with their numbers (section 9)."""
    input:
        alpha=f"{RESULTS}/alpha.parquet",
        recall=f"{RESULTS}/recall.parquet",
        predictions=f"{RESULTS}/predictions.parquet",
    output:
        markdown=f"{RESULTS}/summary.md",
        html=report(
            f"{RESULTS}/summary.html",
            caption="../report/summary.rst",
            category="Summary",
            labels={"output": "summary", "family": "all"},
        ),
    log:
        f"{RESULTS}/logs/analysis_summary.log",
    conda:
        ENV
    params:
        families=FAMILIES,
        title=f"Findings of study {config['study']}",
        max_collapsed_share=config["collapse"]["max_collapsed_share"],
        analysis=noise_floor_options(),
        code=script_code("analysis_summary"),
    script:
        "../scripts/analysis_summary.py"


rule analysis_forgetting_tables:
    """Beyond α, per family: PIE, per-class population tests, error absorption and recall disparity
    (Hooker et al. 2019, Tran et al. 2022), from the predictions and recall tables."""
    input:
        recall=f"{RESULTS}/recall.parquet",
        predictions=f"{RESULTS}/predictions.parquet",
    output:
        rule_files(FORGETTING_TABLES, RESULTS, "Beyond α"),
    log:
        f"{RESULTS}/logs/analysis_forgetting_tables.log",
    conda:
        ENV
    params:
        families=FAMILIES,
        code=script_code("analysis_forgetting_tables"),
    script:
        "../scripts/analysis_forgetting_tables.py"


rule analysis_forgetting_figures:
    """One figure beyond α (PNG + PDF): the PIE image grid, the confusion change heatmap or the recall change
    against dense recall (Tran et al.'s view)."""
    input:
        recall=f"{RESULTS}/recall.parquet",
        predictions=f"{RESULTS}/predictions.parquet",
        data=partial(pie_image_data, FAMILIES),
    output:
        png=report(
            f"{RESULTS}/figures/{{figure}}.png",
            caption="../report/forgetting_figures.rst",
            category="Beyond α",
            subcategory=partial(
                figure_family_name, FAMILIES, outputs=forgetting_figure_outputs
            ),
            labels=partial(figure_labels, FAMILIES, outputs=forgetting_figure_outputs),
        ),
        pdf=f"{RESULTS}/figures/{{figure}}.pdf",
    log:
        f"{RESULTS}/logs/analysis_forgetting_figures/{{figure}}.log",
    wildcard_constraints:
        figure=figure_pattern(FAMILIES, forgetting_figure_outputs),
    conda:
        ENV
    params:
        figure=partial(figure_spec, FAMILIES, outputs=forgetting_figure_outputs),
        per_class=config["analysis"]["pie_images_per_class"],
        code=script_code("analysis_forgetting_figures"),
    script:
        "../scripts/analysis_forgetting_figures.py"
