rule evaluate:
    """Per-class test metrics of the dense and every fine-tuned model of one seed group, and their per-example
    predictions (one row per model and test example) from the same forward pass."""
    input:
        data=f"{RESULTS}/data/{{dataset}}.npz",
        dense=f"{group_dir()}/dense.pt",
        finetuned=finetuned_checkpoints,
    output:
        recall=f"{group_dir()}/recall.parquet",
        predictions=f"{group_dir()}/predictions.parquet",
    log:
        f"{RESULTS}/logs/evaluate/{{dataset}}/{{model}}/seeds{{group}}.log",
    conda:
        ENV
    threads: 1
    resources:
        gpu=1,
    params:
        input_size=model_input_size,
        code=script_code("evaluate"),
    script:
        "../scripts/evaluate.py"


rule aggregate:
    """One long recall table for the study and alpha per (dataset, model, method, ratio, seed) (section 5), and
    the study's predictions table."""
    input:
        recall=group_recall_tables,
        predictions=group_prediction_tables,
    output:
        recall=f"{RESULTS}/recall.parquet",
        alpha=f"{RESULTS}/alpha.parquet",
        predictions=f"{RESULTS}/predictions.parquet",
    log:
        f"{RESULTS}/logs/aggregate.log",
    conda:
        ENV
    params:
        collapse={"min_retained": config["collapse"]["min_retained"]},
        code=script_code("aggregate"),
    script:
        "../scripts/aggregate.py"
