"""envs/*.yaml (for `--sdm conda`) pin the same versions as pyproject.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import InvalidRequirement, Requirement

REPO = Path(__file__).resolve().parents[1]


def pins(requirements) -> dict[str, str]:
    """{normalized name: version} of the ``name==version`` requirements valid on this Python."""
    found = {}
    for line in requirements:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:  # e.g. "-e ../", the package itself
            continue
        if requirement.marker is None or requirement.marker.evaluate({"python_version": "3.11"}):
            (specifier,) = requirement.specifier
            found[requirement.name.lower().replace("_", "-")] = specifier.version
    return found


def test_conda_envs_agree_with_pyproject():
    project = pins(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"])
    assert project["torch"] == "2.13.0"
    for env_file in sorted((REPO / "envs").glob("*.yaml")):
        env = yaml.safe_load(env_file.read_text())
        pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
        env_pins = pins(pip)
        assert env_pins, env_file
        for name, version in env_pins.items():
            assert project.get(name) == version, f"{env_file.name}: {name}=={version}, pyproject has {project.get(name)}"
        python = next(item for item in env["dependencies"] if isinstance(item, str) and item.startswith("python="))
        assert python == "python=3.11"
