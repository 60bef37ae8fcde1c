"""Rule analysis_tables: every table of the study from alpha.parquet, alpha_ci with the noise floor of α from
recall.parquet (recall_distortion.analysis.tables)."""

from pathlib import Path

import pandas as pd

from recall_distortion.logs import setup_log
from recall_distortion.analysis.tables import write_tables

setup_log(snakemake.log[0])
# every output lies in results/<study>/tables/
write_tables(
    pd.read_parquet(snakemake.input.alpha),
    snakemake.params.families,
    Path(snakemake.output[0]).parent,
    pd.read_parquet(snakemake.input.recall),
    snakemake.params.analysis,
    max_collapsed_share=snakemake.params.max_collapsed_share,
)
