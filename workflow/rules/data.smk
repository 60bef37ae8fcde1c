rule prepare_data:
    """Read the raw files once and store the train/validation/test splits as uint8 arrays."""
    output:
        f"{RESULTS}/data/{{dataset}}.npz",
    params:
        options=preparation_options,
        code=code_version("data", "stages/data.py"),
    log:
        f"{RESULTS}/logs/prepare_data/{{dataset}}.log",
    conda:
        ENV
    script:
        "../scripts/prepare_data.py"
