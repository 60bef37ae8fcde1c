from recall_distortion.stages.files import setup_job
from recall_distortion.stages.iterative import rewind_point

setup_job(snakemake.log[0], snakemake.threads)
rewind_point(
    snakemake.input.data,
    snakemake.input.dense,
    snakemake.output[0],
    dataset=snakemake.wildcards.dataset,
    model=snakemake.wildcards.model,
    input_size=snakemake.params.input_size,
    rewind=snakemake.params.rewind,
    seeds=snakemake.params.seeds,
)
