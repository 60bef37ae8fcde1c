from recall_distortion.logs import setup_log
from recall_distortion.stages.aggregate import aggregate, aggregate_predictions

setup_log(snakemake.log[0])
aggregate(list(snakemake.input.recall), snakemake.output.recall, snakemake.output.alpha, **snakemake.params.collapse)
aggregate_predictions(list(snakemake.input.predictions), snakemake.output.predictions)
