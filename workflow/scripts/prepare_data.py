from recall_distortion.logs import setup_log
from recall_distortion.stages.data import prepare_data

setup_log(snakemake.log[0])
prepare_data(snakemake.output[0], dataset=snakemake.wildcards.dataset, **snakemake.params.options)
