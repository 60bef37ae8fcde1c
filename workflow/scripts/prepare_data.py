from recall_distortion.stages.data import prepare_data
from recall_distortion.stages.files import setup_job

setup_job(snakemake.log[0])
prepare_data(snakemake.output[0], dataset=snakemake.wildcards.dataset, **snakemake.params.options)
