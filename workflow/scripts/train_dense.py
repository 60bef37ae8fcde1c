from recall_distortion.stages.files import setup_job
from recall_distortion.stages.train import train_dense

setup_job(snakemake.log[0], snakemake.threads)
train_dense(
    snakemake.input.data,
    snakemake.output.checkpoint,
    snakemake.output.log,
    dataset=snakemake.wildcards.dataset,
    model=snakemake.wildcards.model,
    seeds=snakemake.params.seeds,
    input_size=snakemake.params.input_size,
    hparams=snakemake.params.hparams,
    resume_dir=snakemake.params.resume_dir,
    code=snakemake.params.code,
    multi_seed=snakemake.params.multi_seed,
)
