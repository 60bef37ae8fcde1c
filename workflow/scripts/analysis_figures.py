"""Rule analysis_figures: one planned figure, PNG and PDF (recall_distortion.analysis.figures)."""

from pathlib import Path

import pandas as pd

from recall_distortion.logs import setup_log
from recall_distortion.analysis.figures import write_figure

setup_log(snakemake.log[0])
write_figure(
    pd.read_parquet(snakemake.input.alpha),
    pd.read_parquet(snakemake.input.recall),
    snakemake.params.figure["family"],
    snakemake.wildcards.figure,
    Path(snakemake.output.png).parent,  # results/<study>/figures/
    max_collapsed_share=snakemake.params.max_collapsed_share,
)
