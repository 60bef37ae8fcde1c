rule prune:
    """Score the dense model's weights and keep global top-k masks for every ratio (section 3)."""
    input:
        data=f"{RESULTS}/data/{{dataset}}.npz",
        dense=f"{group_dir()}/dense.pt",
    output:
        f"{group_dir()}/{{method}}/masks.pt",
    params:
        ratios=method_ratios,
        input_size=model_input_size,
        pruning=canonical(config["pruning"]),
        code=code_version(*MODEL_CODE, "pruning.py", "stages/prune.py"),
    log:
        f"{RESULTS}/logs/prune/{{dataset}}/{{model}}/seeds{{group}}/{{method}}.log",
    threads: 1
    resources:
        gpu=scoring_gpus,
    conda:
        ENV
    script:
        "../scripts/prune.py"


rule finetune:
    """Fine-tune each pruned model with its mask held (section 6.1); keep the best validation epoch."""
    input:
        data=f"{RESULTS}/data/{{dataset}}.npz",
        dense=f"{group_dir()}/dense.pt",
        masks=f"{group_dir()}/{{method}}/masks.pt",
    output:
        checkpoint=f"{group_dir()}/{{method}}/finetuned.pt",
        log=f"{group_dir()}/{{method}}/finetune_log.tsv",
    params:
        hparams=finetune_hparams,
        input_size=model_input_size,
        resume_dir=f"{RESULTS}/.resume",
        code=code_version(*TRAINING_CODE, "pruning.py", "stages/finetune.py"),
        multi_seed=config["multi_seed"],
    log:
        f"{RESULTS}/logs/finetune/{{dataset}}/{{model}}/seeds{{group}}/{{method}}.log",
    threads: 1
    resources:
        gpu=1,
    conda:
        ENV
    script:
        "../scripts/finetune.py"
