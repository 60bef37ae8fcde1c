from recall_distortion.logs import setup_log
from recall_distortion.stages.aggregate import aggregate

setup_log(snakemake.log[0])
aggregate(list(snakemake.input), snakemake.output.recall, snakemake.output.alpha, **snakemake.params.collapse)
