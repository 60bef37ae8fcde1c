"""Performance figures of the pipeline (issue 7), printed as Markdown tables for README.md.

    .venv/bin/python benchmarks/run.py [--reps 3] [--threads N] [--gpu-seeds 4,8] [--gpu-compile]

Each figure is measured side by side in one run and reported with its ratio to a reference, so a
loaded or slower machine changes the seconds more than the ratios:
1. seconds per seed-epoch of LeNet5 on Fashion-MNIST-shaped data (the real files when present): the
   project's trainer (`training.train`: validation, epoch log, with and without its per-epoch resume
   state) and several seeds at once (`multiseed.train_many`) against a bare loop and a naive
   DataLoader. Rows run round-robin, one epoch each per round, and the median is kept. Goal: the
   trainer within 10% of the bare loop.
2. fixed cost of a job: seconds from process start to the first SGD step of a train_dense job and to
   the first evaluated model of an evaluate job (benchmarks/job_start.py), and Snakemake's own cost
   per job. Goal <= 2 s.
3. seconds of a dry run of config/paper.yaml (the DAG of the paper's design). Goal <= 15 s.
4. GPU throughput in seed-epochs per second, one seed per process (`train`) against several seeds
   per process (`train_many`), for LeNet5, ResNet-20 and ResNet-56, only when CUDA is available.
   Goals: >= 5x for LeNet5 and >= 2x for ResNet-20 on one H100/H200.
Not a test: nothing here asserts; tests/ checks results, this only times them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from recall_distortion.data import DATASETS, augment_batch, load_splits, to_float_tensor
from recall_distortion.models import build_model
from recall_distortion.multiseed import train_many
from recall_distortion.stages.data import prepare_data
from recall_distortion.stages.files import new_model, setup_job
from recall_distortion.training import init_seed, train

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
HPARAMS = {"epochs": 1, "batch_size": 128, "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0, "nesterov": False,
           "eval_batch_size": 1024, "schedule": {"name": "constant"}}  # section 6.1's LeNet5 protocol, one epoch
# per call; complete, as the config schema would hand it to a job (train takes no defaults)


def table(title: str, header: tuple[str, ...], rows: list[tuple]) -> str:
    lines = [f"**{title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def machine(threads: int) -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    return (f"Machine: {cpu}, {os.cpu_count()} cores, {gpu}; torch {torch.__version__}, {threads} threads; "
            f"Python {platform.python_version()}; load average {load} (1/5/15 min) at start.\n")


# --- 1. per seed-epoch cost on the CPU --------------------------------------------------------------


def fashion_tensors(device) -> tuple[dict, str]:
    """Fashion-MNIST's training split (54k train / 6k validation, as a study would split it) as float
    tensors on `device`; random images of the same shape when the files are absent."""
    if (FASHION_DIR / "train-images-idx3-ubyte.gz").exists():
        splits, source = load_splits("fashion_mnist", FASHION_DIR), f"Fashion-MNIST ({FASHION_DIR})"
    else:
        rng = np.random.default_rng(0)
        splits = {s: (rng.integers(0, 256, (n, 1, 28, 28), dtype=np.uint8), rng.integers(0, 10, n))
                  for s, n in (("train", 54_000), ("val", 6_000))}
        source = "random 28x28 images (Fashion-MNIST files absent)"
    spec = DATASETS["fashion_mnist"]
    data = {s: (to_float_tensor(splits[s][0], spec, 28, device), torch.as_tensor(splits[s][1], dtype=torch.int64,
                                                                                  device=device))
            for s in ("train", "val")}
    return data, source


def lenet(seed: int = 0, device="cpu") -> torch.nn.Module:
    init_seed(seed)
    return build_model("lenet5", 10, 1, 28).to(device)


def bare_loop(data):
    """The floor: data in one tensor, shuffled indices, forward/backward/step, nothing else."""
    (x, y), model = data["train"], lenet()
    optimizer = torch.optim.SGD(model.parameters(), lr=HPARAMS["lr"], momentum=HPARAMS["momentum"])

    def epoch():
        perm = torch.randperm(len(x))
        for i in range(0, len(x), HPARAMS["batch_size"]):
            idx = perm[i:i + HPARAMS["batch_size"]]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return epoch


def naive_loader(data):
    """What a first PyTorch script does: a shuffling DataLoader over a TensorDataset."""
    (x, y), model = data["train"], lenet()
    optimizer = torch.optim.SGD(model.parameters(), lr=HPARAMS["lr"], momentum=HPARAMS["momentum"])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=HPARAMS["batch_size"],
                                         shuffle=True)

    def epoch():
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return epoch


def seconds_per_seed_epoch(reps: int, scratch: Path) -> tuple[list[tuple], str]:
    data, source = fashion_tensors("cpu")
    model = lenet()
    pair = [lenet(0), lenet(1)]
    rows = {  # name -> (one epoch, seeds it trains)
        "bare loop (one tensor, randperm)": (bare_loop(data), 1),
        "naive DataLoader (TensorDataset, shuffle)": (naive_loader(data), 1),
        "`training.train` (validation, epoch log)": (lambda: train(model, data, HPARAMS, seed=0), 1),
        "`training.train` + resume state saved every epoch": (
            lambda: train(model, data, HPARAMS, seed=0, state_path=scratch / "seed0.state.pt"), 1),
        "`multiseed.train_many`, 2 seeds at once (vmap), per seed": (
            lambda: train_many(pair, data, HPARAMS, seeds=[0, 1], state_path=scratch / "pair.state.pt"), 2),
    }
    times = {name: [] for name in rows}
    for _ in range(reps):  # round-robin, so that a change in machine load hits every row alike
        for name, (epoch, seeds) in rows.items():
            t0 = time.perf_counter()
            epoch()
            times[name].append((time.perf_counter() - t0) / seeds)
    bare = statistics.median(times["bare loop (one tensor, randperm)"])
    out = []
    for name, seconds in times.items():
        median = statistics.median(seconds)
        out.append((name, f"{median:.2f}", f"{median / bare:.2f}x", " ".join(f"{s:.2f}" for s in seconds)))
    n_train, n_val = len(data["train"][0]), len(data["val"][0])
    return out, f"LeNet5 28x28, batch 128, {source}: {n_train} training images (+{n_val} validation for the trainer)"


# --- 2. per-job fixed cost --------------------------------------------------------------------------


def job_start(reps: int, scratch: Path) -> list[tuple]:
    data = scratch / "digits.npz"
    prepare_data(data, dataset="digits", val_fraction=0.1, split_seed=0)
    checkpoint = scratch / "dense.pt"
    torch.save({"seeds": {0: {"state": new_model("digits", "lenet5", 32, "cpu").state_dict()}}}, checkpoint)

    def child(argv) -> dict:
        start = time.time()
        done = subprocess.run(argv(start), capture_output=True, text=True, check=True)
        elapsed = time.time() - start
        return json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {"exit": elapsed}

    rows = []
    for what, argv in (
        ("`python -c pass`", lambda s: [sys.executable, "-c", "pass"]),
        ("`python -c 'import torch'`", lambda s: [sys.executable, "-c", "import torch"]),
        *((f"{kind} job", lambda s, kind=kind: [sys.executable, str(ROOT / "benchmarks" / "job_start.py"), kind,
                                                repr(s), str(data), str(checkpoint), str(scratch / f"{kind}.log")])
          for kind in ("train", "evaluate")),
    ):
        runs = [child(argv) for _ in range(reps)]
        for mark in runs[0]:
            rows.append((what, mark, f"{statistics.median(r[mark] for r in runs):.2f}"))
    rows += snakemake_per_job(scratch / "snakemake")
    return rows


def snakemake_per_job(folder: Path, jobs: int = 16) -> list[tuple]:
    """Snakemake's cost per job: (time for 1 + `jobs` jobs - time for 1 job) / `jobs`, for a `script:`
    rule (a new Python process that unpickles the `snakemake` object, like every stage) and a
    `shell:` rule."""
    folder.mkdir()
    (folder / "noop.py").write_text("open(snakemake.output[0], 'w').close()\n")
    (folder / "Snakefile").write_text(
        "rule all:\n    input: expand('{kind}/{i}.txt', kind=config['kind'], i=range(config['jobs']))\n"
        "rule script:\n    output: 'script/{i}.txt'\n    script: 'noop.py'\n"
        "rule shell:\n    output: 'shell/{i}.txt'\n    shell: 'touch {output}'\n")
    rows = []
    for kind in ("script", "shell"):
        elapsed = {}
        for n in (1, 1 + jobs):
            shutil.rmtree(folder / kind, ignore_errors=True)
            t0 = time.perf_counter()
            subprocess.run([str(BIN / "snakemake"), "--cores", "1", "--quiet", "--config", f"kind={kind}",
                            f"jobs={n}"], cwd=folder, check=True, capture_output=True)
            elapsed[n] = time.perf_counter() - t0
        rows.append((f"Snakemake `{kind}:` rule", "per job", f"{(elapsed[1 + jobs] - elapsed[1]) / jobs:.2f}"))
        rows.append((f"Snakemake `{kind}:` rule", "whole run with 1 job", f"{elapsed[1]:.2f}"))
    return rows


# --- 3. dry run of the paper's design ---------------------------------------------------------------


def dry_run(scratch: Path) -> tuple[list[tuple], str]:
    """`snakemake -n --configfile config/paper.yaml --quiet rules` in a copy of the workflow, twice."""
    copy = scratch / "repo"
    for part in ("workflow", "config", "src"):
        shutil.copytree(ROOT / part, copy / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / "Snakefile", copy / "Snakefile")
    note = ""
    command = [str(BIN / "snakemake"), "-n", "--configfile", "config/paper.yaml", "--quiet", "rules"]
    probe = subprocess.run(command, cwd=copy, capture_output=True, text=True)
    if probe.returncode != 0:  # measure the DAG without the analysis rules, and say so
        snakefile = copy / "Snakefile"
        text = snakefile.read_text().replace('include: "workflow/rules/analysis.smk"\n', "")
        snakefile.write_text(text.replace("        analysis_targets(),\n", ""))
        note = ("the full Snakefile failed (" + probe.stderr.strip().splitlines()[-1][:120]
                + "); measured without workflow/rules/analysis.smk")
    rows = []
    for attempt in ("first run", "second run"):
        t0 = time.perf_counter()
        done = subprocess.run(command, cwd=copy, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if done.returncode != 0:
            raise RuntimeError(f"dry run failed:\n{done.stderr[-2000:]}")
        rows.append((attempt, f"{seconds:.1f}"))
    jobs = next((line for line in done.stdout.splitlines() if line.strip().startswith("total")), "").split()
    return rows, (f"{jobs[-1]} jobs planned" if jobs else "") + (f"; {note}" if note else "")


# --- 4. seed-epochs per second on a GPU -------------------------------------------------------------


def gpu_throughput(seed_counts: list[int], compile: bool, epochs: int = 2) -> list[tuple]:
    """Seed-epochs/s of the last of `epochs` epochs (the first pays warm-up and compilation), with the
    jobs' cuDNN settings (setup_job); data and augmentation on the GPU, as in the stages."""
    if not torch.cuda.is_available():
        return [(name, "-", "not measured (no CUDA device)", "-", "-")
                for name in ("lenet5 (Fashion-MNIST)", "resnet20 (CIFAR-10 shape)", "resnet56 (CIFAR-10 shape)")]
    device = torch.device("cuda")
    fashion, _ = fashion_tensors(device)
    rng = np.random.default_rng(0)
    cifar_spec = DATASETS["cifar10"]
    cifar = {s: (to_float_tensor(rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), cifar_spec, 32, device),
                 torch.as_tensor(rng.integers(0, 10, n), device=device))
             for s, n in (("train", 45_000), ("val", 5_000))}
    hp_resnet = {**HPARAMS, "epochs": epochs, "lr": 0.1, "weight_decay": 5e-4}
    rows = []
    for name, data, hp, augment, shape in (
        ("lenet5 (Fashion-MNIST)", fashion, {**HPARAMS, "epochs": epochs}, None, (10, 1, 28)),
        ("resnet20 (CIFAR-10 shape)", cifar, hp_resnet, augment_batch, (10, 3, 32)),
        ("resnet56 (CIFAR-10 shape)", cifar, hp_resnet, augment_batch, (10, 3, 32)),
    ):
        arch = name.split()[0]

        def models(k):
            out = []
            for seed in range(k):
                init_seed(seed)
                out.append(build_model(arch, *shape).to(device))
            return out

        single = 1.0 / train(models(1)[0], data, hp, seed=0, augment=augment).log["seconds"].iloc[-1]
        rows.append((name, "1 (`train`)", f"{single:.2f}", "1.00x", "fp32"))
        variants = [(k, {}, "fp32") for k in seed_counts] + [(k, {"bf16": True}, "bf16 autocast") for k in seed_counts]
        if compile:
            variants.append((max(seed_counts), {"compile": True}, "fp32, torch.compile"))
        for k, options, label in variants:
            results = train_many(models(k), data, hp, seeds=list(range(k)), augment=augment, **options)
            rate = k / results[0].log["seconds"].iloc[-1]
            rows.append((name, f"{k} (`train_many`)", f"{rate:.2f}", f"{rate / single:.2f}x", label))
        torch.cuda.empty_cache()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="epochs per row (section 1), runs per job (section 2)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch CPU threads, every row")
    parser.add_argument("--gpu-seeds", default="4,8", help="seeds per process for train_many on a GPU")
    parser.add_argument("--gpu-compile", action="store_true",
                        help="also time train_many(compile=True) with the most seeds (compiling takes minutes)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="recall_distortion-bench-") as tmp:
        scratch = Path(tmp)
        setup_job(scratch / "bench.log", args.threads)  # the jobs' logging, threads and cuDNN settings
        print(machine(args.threads))
        rows, what = seconds_per_seed_epoch(args.reps, scratch)
        print(table(f"1. Seconds per seed-epoch on the CPU ({what}; median of {args.reps} epochs)",
                    ("Loop", "s / seed-epoch", "vs bare loop", "each epoch (s)"), rows))
        print(table(f"2. Fixed cost of a job (seconds since process start, median of {args.reps} runs; "
                    "digits, LeNet5 32x32, 1 thread)", ("Process", "Milestone", "Seconds"),
                    job_start(args.reps, scratch)))
        rows, note = dry_run(scratch)
        print(table(f"3. Dry run of config/paper.yaml (`snakemake -n --quiet rules`){'; ' + note if note else ''}",
                    ("Run", "Seconds"), rows))
        print(table("4. GPU throughput (seed-epochs/s, last of 2 epochs, batch 128)",
                    ("Model", "Seeds per process", "Seed-epochs/s", "vs 1 seed", "Precision"),
                    gpu_throughput([int(k) for k in args.gpu_seeds.split(",")], args.gpu_compile)))
        print(f"Load average at the end: {' / '.join(f'{v:.1f}' for v in os.getloadavg())}")
    logging.shutdown()


if __name__ == "__main__":
    main()
