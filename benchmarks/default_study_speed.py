"""The default study's wall time at two commits, side by side on this machine (issue 14, part 3).

    .venv/bin/python benchmarks/default_study_speed.py [--base 2f7e466] [--new HEAD] [--cores 2]

For each commit: a clean checkout (``git worktree add --detach``) runs what ``make run`` runs after
installation -- ``snakemake --configfile config/config.yaml --cores N`` then ``--report`` -- with that
checkout's own package first on PYTHONPATH (the shared .venv holds the libraries), so each commit
runs its own code and its own default config. The two runs go one after the other in one process on
one machine, and the figure to report is their ratio: absolute seconds differ 2x between machines
of the same kind. Prints a Markdown table. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def timed(command: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def run_study(commit: str, cores: int, scratch: Path) -> dict[str, float]:
    """Seconds of the workflow and of the report of the default study at ``commit``."""
    tree = scratch / commit
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        env = os.environ | {"PYTHONPATH": str(tree / "src")}
        study = subprocess.run([sys.executable, "-c", "import yaml; print(yaml.safe_load(open('config/config.yaml'))['study'])"],
                               cwd=tree, capture_output=True, text=True, check=True).stdout.strip()
        workflow = timed([str(SNAKEMAKE), "--configfile", "config/config.yaml", "--cores", str(cores)], tree, env)
        report = timed([str(SNAKEMAKE), "--configfile", "config/config.yaml", "--cores", "1", "--report",
                        f"results/{study}/report.html"], tree, env)
        return {"workflow": workflow, "report": report, "total": workflow + report}
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="2f7e466", help="the commit to compare against (default: the landed main before issue 14)")
    parser.add_argument("--new", default="HEAD")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    commits = {name: subprocess.run(["git", "rev-parse", "--short", ref], cwd=REPO, capture_output=True, text=True,
                                    check=True).stdout.strip() for name, ref in (("base", args.base), ("new", args.new))}
    with tempfile.TemporaryDirectory(prefix="study-speed-") as scratch:
        seconds = {name: run_study(commit, args.cores, Path(scratch)) for name, commit in commits.items()}
    print(f"Default study, `--cores {args.cores}`, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs; one run each, one after the other:\n")
    print("| commit | workflow (s) | report (s) | total (s) |")
    print("| --- | --- | --- | --- |")
    for name, commit in commits.items():
        s = seconds[name]
        print(f"| {name} {commit} | {s['workflow']:.0f} | {s['report']:.0f} | {s['total']:.0f} |")
    print(f"\nSpeed-up of the whole study: {seconds['base']['total'] / seconds['new']['total']:.2f}x")


if __name__ == "__main__":
    main()
