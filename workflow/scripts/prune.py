from recall_distortion.stages.files import setup_job
from recall_distortion.stages.prune import prune

setup_job(snakemake.log[0], snakemake.threads)
prune(
    snakemake.input.data,
    snakemake.input.dense,
    snakemake.output[0],
    dataset=snakemake.wildcards.dataset,
    model=snakemake.wildcards.model,
    method=snakemake.wildcards.method,
    ratios=snakemake.params.ratios,
    input_size=snakemake.params.input_size,
    **snakemake.params.pruning,
)
