"""Configs as the workflow sees them: validated and filled in from the JSON schema alone.

`check_config` is what workflow/rules/common.smk does with a study config before any job runs;
`complete_hparams` fills one training block the same way (the schema's ``$defs/hparams``), for tests
that call the training loop directly (it takes complete hyper-parameters).
"""

from __future__ import annotations

import copy
import functools
import tempfile
from pathlib import Path

import yaml
from snakemake.utils import validate

from recall_distortion.config import ConfigError, check_study, schema_errors, with_dataset_entries

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def _validated(config: dict, schema) -> dict:
    """Schema errors one line per key (ConfigError), then the schema's defaults filled in."""
    if errors := schema_errors(config, schema):
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))
    validate(config, str(schema), set_default=True)
    return config


def check_config(config: dict, schema=SCHEMA) -> None:
    _validated(with_dataset_entries(config), schema)
    check_study(config)


@functools.cache
def _hparams_schema() -> str:
    schema = yaml.safe_load(SCHEMA.read_text())
    path = Path(tempfile.mkdtemp(prefix="hparams-schema-")) / "hparams.schema.yaml"
    path.write_text(yaml.safe_dump({"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": "#/$defs/hparams"}))
    return str(path)


def complete_hparams(hparams: dict) -> dict:
    """``hparams`` with the schema's defaults filled in, as Snakemake hands them to a job."""
    return _validated(copy.deepcopy(dict(hparams)), _hparams_schema())
