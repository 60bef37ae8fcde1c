"""Which package source files a workflow script runs, found from its real imports.

Snakemake reruns a job when its params change, but it does not see edits to an imported package.
So each rule passes a hash of the package sources its script runs as a param
(``workflow/rules/common.smk: script_code``). Listing those modules by hand drifts: the evaluate
rule once missed ``pruning.py`` and ``metrics.py`` although ``evaluation.py`` imported both. Here
they are found by parsing import statements with :mod:`ast`, transitively, starting from the rule's
script: every ``import recall_distortion...``, ``from recall_distortion... import ...`` and relative
import anywhere in a module (imports inside functions too: they run when the function does), plus
the ``__init__.py`` of every package on the way (importing a submodule runs them). Nothing is
imported or executed, so this is cheap enough to run for every rule when the DAG is built.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

PACKAGE = "recall_distortion"


def module_file(root: Path, module: str) -> Path | None:
    """The file of ``module`` under ``root`` (the folder holding the package), or None if it is no
    module of ours (an attribute imported with ``from x import name``, a third-party module)."""
    base = Path(root).joinpath(*module.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def imported_names(path: Path, module: str | None = None) -> set[str]:
    """Dotted names of the package that ``path`` imports (``module``: its own dotted name, needed to
    resolve relative imports; None for a script outside the package)."""
    tree = ast.parse(Path(path).read_text(), filename=str(path))
    package = (module or "").split(".")
    if Path(path).name != "__init__.py":
        package = package[:-1]  # a module's relative imports start from its package
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if module is None:
                    raise ValueError(f"{path}: relative import outside the package")
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)  # `from pkg import submodule`
    return {name for name in names if name == PACKAGE or name.startswith(PACKAGE + ".")}


def source_files(script: Path, root: Path) -> list[Path]:
    """Every package file that running ``script`` imports, directly or not, sorted."""
    found: dict[str, Path] = {}
    todo: list[tuple[Path, str | None]] = [(Path(script), None)]
    while todo:
        path, module = todo.pop()
        for name in imported_names(path, module):
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):
                dotted = ".".join(parts[:depth])
                file = module_file(root, dotted)
                if file is not None and dotted not in found:
                    found[dotted] = file
                    todo.append((file, dotted))
    return sorted(found.values())


def code_version(script: Path, root: Path) -> str:
    """Short hash of ``script`` and every package file it runs: a rule param that changes exactly
    when the code a job runs changes."""
    digest = hashlib.sha256()
    for file in [Path(script), *source_files(script, root)]:
        digest.update(file.name.encode() if file == Path(script) else file.relative_to(root).as_posix().encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]
