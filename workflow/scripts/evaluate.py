from recall_distortion.stages.evaluate import evaluate
from recall_distortion.stages.files import setup_job

setup_job(snakemake.log[0], snakemake.threads)
evaluate(
    snakemake.input.data,
    snakemake.input.dense,
    list(snakemake.input.finetuned),
    snakemake.output.recall,
    snakemake.output.predictions,
    dataset=snakemake.wildcards.dataset,
    model=snakemake.wildcards.model,
    input_size=snakemake.params.input_size,
)
