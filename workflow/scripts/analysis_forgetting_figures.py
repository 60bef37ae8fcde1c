"""Rule analysis_forgetting_figures: one planned figure beyond α, PNG and PDF
(recall_distortion.analysis.forgetting_figures)."""

from pathlib import Path

import pandas as pd

from recall_distortion.logs import setup_log
from recall_distortion.analysis.forgetting_figures import load_test_images, write_forgetting_figure

setup_log(snakemake.log[0])
write_forgetting_figure(
    pd.read_parquet(snakemake.input.recall),
    pd.read_parquet(snakemake.input.predictions),
    load_test_images(snakemake.input.data),
    snakemake.params.figure["family"],
    snakemake.wildcards.figure,
    Path(snakemake.output.png).parent,  # results/<study>/figures/
    per_class=snakemake.params.per_class,
)
