# Appendix H's modern methods (recall_distortion.stages.iterative, .structured): the LTH chain of levels with
# rewinding (Table 12) and channel pruning with fine-tuning (Table 13). Their models are evaluated with the
# others (rule evaluate), so α, collapse marks and every study-wide table cover them.


rule rewind_point:
    """Replay each seed's dense run to the chain's rewind step and keep those weights (Frankle et al. 2020)."""
    input:
        data=f"{RESULTS}/data/{{dataset}}.npz",
        dense=f"{group_dir()}/dense.pt",
    output:
        f"{group_dir()}/lth/rewind.pt",
    log:
        f"{RESULTS}/logs/rewind_point/{{dataset}}/{{model}}/seeds{{group}}.log",
    conda:
        ENV
    threads: 1
    resources:
        gpu=1,
    params:
        input_size=model_input_size,
        rewind=lambda wildcards: canonical(lth_chain(wildcards)["rewind"]),
        seeds=lambda wildcards: pruned_seeds(wildcards, lth_chain(wildcards)["seeds"]),
        code=script_code("rewind_point"),
    script:
        "../scripts/rewind_point.py"


rule lth_level:
    """Level ℓ of the LTH chain: prune 20% of the survivors by magnitude, rewind, train with the mask held."""
    input:
        data=f"{RESULTS}/data/{{dataset}}.npz",
        previous=previous_level,
        rewind=f"{group_dir()}/lth/rewind.pt",
    output:
        checkpoint=f"{group_dir()}/lth/level{{level}}.pt",
        log=f"{group_dir()}/lth/level{{level}}_log.tsv",
    log:
        f"{RESULTS}/logs/lth_level/{{dataset}}/{{model}}/seeds{{group}}/level{{level}}.log",
    wildcard_constraints:
        level=r"[1-9]\d*",
    conda:
        ENV
    threads: 1
    resources:
        gpu=1,
    params:
        rate=lambda wildcards: lth_chain(wildcards)["rate"],
        hparams=level_hparams,
        input_size=model_input_size,
        resume_dir=f"{RESULTS}/.resume",
        code=script_code("lth_level"),
        multi_seed=config["multi_seed"],
    script:
        "../scripts/lth_level.py"


rule structured:
    """Prune channels of each dense model at every ratio of one criterion (CHIP, L1) and fine-tune them."""
    input:
        data=f"{RESULTS}/data/{{dataset}}.npz",
        dense=f"{group_dir()}/dense.pt",
    output:
        checkpoint=f"{group_dir()}/{{criterion}}/structured.pt",
        log=f"{group_dir()}/{{criterion}}/structured_log.tsv",
    log:
        f"{RESULTS}/logs/structured/{{dataset}}/{{model}}/seeds{{group}}/{{criterion}}.log",
    wildcard_constraints:
        criterion=r"[a-z0-9_]+",
    conda:
        ENV
    threads: 1
    resources:
        gpu=1,
    params:
        options=structured_options,
        hparams=finetune_hparams,
        input_size=model_input_size,
        resume_dir=f"{RESULTS}/.resume",
        code=script_code("structured"),
        multi_seed=config["multi_seed"],
    script:
        "../scripts/structured.py"
