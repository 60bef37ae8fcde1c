from recall_distortion.stages.aggregate import aggregate
from recall_distortion.stages.files import setup_job

setup_job(snakemake.log[0])
aggregate(list(snakemake.input), snakemake.output.recall, snakemake.output.alpha, **snakemake.params.collapse)
