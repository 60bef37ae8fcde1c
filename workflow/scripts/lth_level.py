from recall_distortion.stages.files import setup_job
from recall_distortion.stages.iterative import lth_level

setup_job(snakemake.log[0], snakemake.threads)
lth_level(
    snakemake.input.data,
    snakemake.input.previous,
    snakemake.input.rewind,
    snakemake.output.checkpoint,
    snakemake.output.log,
    dataset=snakemake.wildcards.dataset,
    model=snakemake.wildcards.model,
    input_size=snakemake.params.input_size,
    level=int(snakemake.wildcards.level),
    rate=snakemake.params.rate,
    hparams=snakemake.params.hparams,
    resume_dir=snakemake.params.resume_dir,
    code=snakemake.params.code,
    multi_seed=snakemake.params.multi_seed,
)
