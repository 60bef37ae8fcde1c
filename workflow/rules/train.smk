rule train_dense:
    """Train one dense model per seed; keep the epoch with the lowest validation loss (section 6.1)."""
    input:
        data=f"{RESULTS}/data/{{dataset}}.npz",
    output:
        checkpoint=f"{group_dir()}/dense.pt",
        log=f"{group_dir()}/dense_log.tsv",
    log:
        f"{RESULTS}/logs/train_dense/{{dataset}}/{{model}}/seeds{{group}}.log",
    conda:
        ENV
    threads: 1
    resources:
        gpu=1,
    params:
        seeds=group_seeds,
        hparams=train_hparams,
        input_size=model_input_size,
        resume_dir=f"{RESULTS}/.resume",
        code=script_code("train_dense"),
        multi_seed=config["multi_seed"],
    script:
        "../scripts/train_dense.py"


rule finetune:
    """Fine-tune each pruned model with its mask held (section 6.1); keep the best validation epoch."""
    input:
        data=f"{RESULTS}/data/{{dataset}}.npz",
        dense=f"{group_dir()}/dense.pt",
        masks=f"{group_dir()}/{{method}}/masks.pt",
    output:
        checkpoint=f"{group_dir()}/{{method}}/finetuned.pt",
        log=f"{group_dir()}/{{method}}/finetune_log.tsv",
    log:
        f"{RESULTS}/logs/finetune/{{dataset}}/{{model}}/seeds{{group}}/{{method}}.log",
    conda:
        ENV
    threads: 1
    resources:
        gpu=1,
    params:
        hparams=finetune_hparams,
        input_size=model_input_size,
        resume_dir=f"{RESULTS}/.resume",
        code=script_code("finetune"),
        multi_seed=config["multi_seed"],
    script:
        "../scripts/finetune.py"
