rule prune:
    """Score the dense model's weights and keep global top-k masks for every ratio (section 3)."""
    input:
        data=f"{RESULTS}/data/{{dataset}}.npz",
        dense=f"{group_dir()}/dense.pt",
    output:
        f"{group_dir()}/{{method}}/masks.pt",
    log:
        f"{RESULTS}/logs/prune/{{dataset}}/{{model}}/seeds{{group}}/{{method}}.log",
    conda:
        ENV
    threads: 1
    resources:
        gpu=scoring_gpus,
    params:
        ratios=method_ratios,
        input_size=model_input_size,
        pruning=canonical(config["pruning"]),
        code=script_code("prune"),
    script:
        "../scripts/prune.py"
