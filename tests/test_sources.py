"""Rule code hashes follow the package's real imports (issue: hand-kept source lists drifted)."""

from __future__ import annotations

from pathlib import Path

from recall_distortion.sources import code_version, imported_names, source_files

REPO = Path(__file__).resolve().parents[1]


def _package(root: Path) -> None:
    """A hand-made package: script -> stage (absolute) -> work (relative) -> helper (lazy, in a function)."""
    files = {
        "recall_distortion/__init__.py": "",
        "recall_distortion/stages/__init__.py": "",
        "recall_distortion/stages/stage.py": "from recall_distortion.work import run\nimport numpy\n",
        "recall_distortion/work.py": "from .columns import KEY\n\ndef run():\n    from recall_distortion import helper\n",
        "recall_distortion/columns.py": "KEY = 1\n",
        "recall_distortion/helper.py": "x = 2\n",
        "recall_distortion/unused.py": "y = 3\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "script.py").write_text("from recall_distortion.stages.stage import run\nrun()\n")


def test_sources_are_followed_through_relative_and_lazy_imports(tmp_path):
    _package(tmp_path)
    files = {p.relative_to(tmp_path).as_posix() for p in source_files(tmp_path / "script.py", tmp_path)}
    assert files == {
        "recall_distortion/__init__.py",
        "recall_distortion/stages/__init__.py",
        "recall_distortion/stages/stage.py",
        "recall_distortion/work.py",
        "recall_distortion/columns.py",  # relative import
        "recall_distortion/helper.py",  # imported inside a function: `from pkg import module`
    }


def test_relative_import_in_a_package_init_resolves_inside_that_package(tmp_path):
    (tmp_path / "recall_distortion/data").mkdir(parents=True)
    init = tmp_path / "recall_distortion/data/__init__.py"
    init.write_text("from .spec import X\nfrom .. import atomic\n")
    assert imported_names(init, "recall_distortion.data") == {
        "recall_distortion.data.spec", "recall_distortion.data.spec.X", "recall_distortion", "recall_distortion.atomic",
    }


def test_editing_a_module_reached_only_indirectly_changes_the_hash(tmp_path):
    _package(tmp_path)
    before = code_version(tmp_path / "script.py", tmp_path)
    (tmp_path / "recall_distortion/unused.py").write_text("y = 4\n")
    assert code_version(tmp_path / "script.py", tmp_path) == before  # not imported: no rerun
    (tmp_path / "recall_distortion/helper.py").write_text("x = 3\n")
    assert code_version(tmp_path / "script.py", tmp_path) != before


def test_the_evaluate_script_runs_evaluation_and_what_it_imports():
    files = {p.relative_to(REPO / "src").as_posix() for p in source_files(REPO / "workflow/scripts/evaluate.py", REPO / "src")}
    assert {"recall_distortion/stages/evaluate.py", "recall_distortion/evaluation.py", "recall_distortion/pruning.py",
            "recall_distortion/columns.py"} <= files
    assert not any(f.startswith("recall_distortion/analysis/") for f in files)
