# Recall distortion under network pruning: dataset -> dense training -> prune -> fine-tune ->
# per-class recall -> alpha -> tables, figures, summary. See README.md for how to run it.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/prune.smk"
include: "workflow/rules/appendix_h.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/analysis.smk"


rule all:
    input:
        f"{RESULTS}/recall.parquet",
        f"{RESULTS}/alpha.parquet",
        f"{RESULTS}/predictions.parquet",
        analysis_targets(),
