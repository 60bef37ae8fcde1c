"""Rule analysis_summary: the findings summary (recall_distortion.analysis.summary), with the section beyond α
(recall_distortion.analysis.forgetting_summary)."""

import pandas as pd

from recall_distortion.logs import setup_log
from recall_distortion.analysis.forgetting_summary import beyond_alpha
from recall_distortion.analysis.summary import write_summary

setup_log(snakemake.log[0])
write_summary(
    pd.read_parquet(snakemake.input.alpha),
    snakemake.params.families,
    snakemake.output.markdown,
    snakemake.output.html,
    title=snakemake.params.title,
    max_collapsed_share=snakemake.params.max_collapsed_share,
    beyond=beyond_alpha(
        pd.read_parquet(snakemake.input.recall),
        pd.read_parquet(snakemake.input.predictions),
        snakemake.params.families,
        snakemake.params.analysis,
    ),
)
