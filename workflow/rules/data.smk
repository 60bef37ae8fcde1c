rule prepare_data:
    """Read the raw files once and store the train/validation/test splits as uint8 arrays."""
    output:
        f"{RESULTS}/data/{{dataset}}.npz",
    log:
        f"{RESULTS}/logs/prepare_data/{{dataset}}.log",
    conda:
        ENV
    params:
        options=preparation_options,
        code=script_code("prepare_data"),
    script:
        "../scripts/prepare_data.py"
