from recall_distortion.stages.files import setup_job
from recall_distortion.stages.structured import structured

setup_job(snakemake.log[0], snakemake.threads)
structured(
    snakemake.input.data,
    snakemake.input.dense,
    snakemake.output.checkpoint,
    snakemake.output.log,
    dataset=snakemake.wildcards.dataset,
    model=snakemake.wildcards.model,
    criterion=snakemake.wildcards.criterion,
    input_size=snakemake.params.input_size,
    hparams=snakemake.params.hparams,
    resume_dir=snakemake.params.resume_dir,
    code=snakemake.params.code,
    multi_seed=snakemake.params.multi_seed,
    **snakemake.params.options,
)
