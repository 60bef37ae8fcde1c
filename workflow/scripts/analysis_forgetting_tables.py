"""Rule analysis_forgetting_tables: the tables beyond α of every family (recall_distortion.analysis.forgetting)."""

from pathlib import Path

import pandas as pd

from recall_distortion.logs import setup_log
from recall_distortion.analysis.forgetting import write_forgetting_tables

setup_log(snakemake.log[0])
# every output lies in results/<study>/tables/
write_forgetting_tables(
    pd.read_parquet(snakemake.input.recall),
    pd.read_parquet(snakemake.input.predictions),
    snakemake.params.families,
    Path(snakemake.output[0]).parent,
)
