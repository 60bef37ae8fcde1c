"""Rule analysis_summary: the findings summary (recall_distortion.analysis.summary)."""

import pandas as pd

from recall_distortion.logs import setup_log
from recall_distortion.analysis.summary import write_summary

setup_log(snakemake.log[0])
write_summary(
    pd.read_parquet(snakemake.input.alpha),
    snakemake.params.families,
    snakemake.output.markdown,
    snakemake.output.html,
    title=snakemake.params.title,
    max_collapsed_share=snakemake.params.max_collapsed_share,
)
