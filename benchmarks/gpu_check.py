"""GPU self-check: run it first on a new GPU box (`make gpu-check`, issue 13).

    python benchmarks/gpu_check.py [--budget 290] [--seeds 1,4,8,16] [--config config/paper.yaml]

Exercises every CUDA path of the pipeline in at most `--budget` seconds and prints one verdict table
(check | result | detail):
- device claim: two concurrent processes calling `device.claim_device()` get different GPUs (two or
  more GPUs), and a process started with CUDA_VISIBLE_DEVICES=i gets cuda:0 = GPU i;
- tiny study: tests/workflow/tiny.yaml through the real `snakemake` command, every GPU job on CUDA;
- vmap = sequential: `multiseed.train_many` against `training.train` per seed (ResNet-20 with BatchNorm,
  augmentation and pruning masks) in float64 (tolerance 1e-9), and in fp32 with and without TF32
  convolutions (VMAP_CASES), pruned weights staying zero;
- determinism: two identical runs of each, as jobs run, bitwise equal or their largest difference;
- throughput: seed-epochs/s of LeNet5, ResNet-20 and ResNet-56 on random data shaped like the study's
  (on the device, a 9:1 train:validation split as the 10% hold-out), one seed per process (`train`,
  also with the model in channels_last) against K seeds per process (`train_many`, also with bf16 and
  torch.compile). Each model's measurements run in a child process killed at its share of the budget;
  each measurement first times a short probe, then as many steps (up to --max-steps) as its share allows,
  warm-up excluded, the device synchronised around the timed epoch;
- projection: GPU-hours of --config (benchmarks/projection.py) from those rates, per setting, and the
  cheapest `multi_seed` / `seeds_per_job`.
Without CUDA it says so, times LeNet5 on the CPU (one thread, as a job runs) and projects CPU
core-hours; it exits 0. With CUDA it exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks.projection, tests.snakemake_runs

import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from benchmarks.projection import SEQUENTIAL, VMAP, Setting, best, project, workloads  # noqa: E402
from tests.configs import check_config  # noqa: E402  (validation as workflow/rules/common.smk does it)
from recall_distortion.config import input_size  # noqa: E402
from recall_distortion.data import DATASETS, augment_batch, to_float_tensor  # noqa: E402
from recall_distortion.models import build_model  # noqa: E402
from recall_distortion.multiseed import train_many  # noqa: E402
from recall_distortion.stages.files import setup_job  # noqa: E402
from recall_distortion.training import init_seed, train  # noqa: E402

PASS, FAIL, SKIP, INFO = "pass", "FAIL", "skipped", "measured"
GPU_MODELS, CPU_MODELS = ("lenet5", "resnet20", "resnet56"), ("lenet5",)
SHARE = {"lenet5": 1.0, "resnet20": 1.5, "resnet56": 2.5}  # of the throughput budget, by expected cost
PROBE_STEPS, MIN_STEPS = 8, 10
ENV_SRC = {"PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT / "src"), os.environ.get("PYTHONPATH"))))}


@dataclass
class Row:
    check: str
    result: str
    detail: str


def run_boxed(argv: list[str], timeout: float, **popen) -> tuple[int, str, bool]:
    """Run a command in its own process group and kill the whole group at `timeout` seconds, so that no
    child (a Snakemake job, a compile worker) keeps the GPU busy afterwards. (exit code, stdout so far,
    timed out)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, start_new_session=True, **popen)
    try:
        out, _ = proc.communicate(timeout=max(1.0, timeout))
        return proc.returncode, out, False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return proc.returncode, out, True


def table(rows: list[Row]) -> str:
    lines = ["| check | result | detail |", "|---|---|---|"]
    lines += [f"| {r.check} | {r.result} | {r.detail} |" for r in rows]
    return "\n".join(lines)


def hparams(config: dict, model: str, epochs: int) -> dict:
    """The config's fine-tune hyper-parameters (lr 0.01: random labels never diverge), complete."""
    return {**config["models"][model]["finetune"], "epochs": epochs, "nesterov": False, "eval_batch_size": 1024}


def shape_of(config: dict, model: str) -> dict:
    """The first experiment of `model` in the config: dataset, (classes, channels, input size), augment."""
    plan = next((w for w in workloads(config) if w.model == model), None)
    if plan is None:
        raise SystemExit(f"model {model!r} is not in any experiment of the config")
    spec = DATASETS[plan.dataset]
    return {"dataset": plan.dataset, "images": plan.images, "augment": spec.augment,
            "shape": [spec.num_classes, spec.channels, input_size(config, plan.dataset)]}


def random_split(spec_name: str, shape: list[int], n: int, device, seed: int = 0):
    """n random images of the dataset's stored size, normalised and resized as a job would, with labels."""
    spec = DATASETS[spec_name]
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, (n, spec.channels, spec.image_size, spec.image_size), dtype=np.uint8)
    return (to_float_tensor(raw, spec, shape[2], device),
            torch.as_tensor(rng.integers(0, shape[0], n), dtype=torch.int64, device=device))


def new_models(model: str, shape: list[int], seeds, device) -> list[torch.nn.Module]:
    out = []
    for seed in seeds:
        init_seed(seed)
        out.append(build_model(model, *shape).to(device))
    return out


# --- device claim ------------------------------------------------------------------------------------

CLAIMANT = textwrap.dedent("""
    import json, sys, torch
    from recall_distortion.device import claim_device
    device = claim_device(timeout=float(sys.argv[1])).device
    props = torch.cuda.get_device_properties(device)
    print(json.dumps({"device": str(device), "current": torch.cuda.current_device(),
                      "gpu": str(getattr(props, "uuid", None) or props.name)}), flush=True)
    sys.stdin.read()  # hold the claim until the parent has heard from every claimant
""")


def gpu_identity(index: int) -> str:
    props = torch.cuda.get_device_properties(index)
    return str(getattr(props, "uuid", None) or props.name)


def claimants(count: int, env: dict, timeout: float) -> list[dict]:
    """Start `count` claimant processes at once; their reports, read while all still hold their claims."""
    procs = [subprocess.Popen([sys.executable, "-c", CLAIMANT, str(timeout)], env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(count)]
    reports = []
    try:
        for proc in procs:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(" ".join(proc.stderr.read().strip().splitlines()[-1:]) or "claimant exited silently")
            reports.append(json.loads(line))
    finally:
        for proc in procs:
            proc.stdin.close()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return reports


def check_device_claim(scratch: Path, timeout: float = 30.0) -> list[Row]:
    if not torch.cuda.is_available():
        return [Row("device claim", SKIP, "no CUDA")]
    n = torch.cuda.device_count()
    env = {**os.environ, **ENV_SRC, "RECALL_DISTORTION_GPU_LOCK_DIR": str(scratch / "locks")}
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    rows = []
    if n < 2:
        rows.append(Row("device claim: 2 jobs, 2 GPUs", SKIP, f"{n} GPU visible: two jobs can only share it"))
    elif visible is not None:
        rows.append(Row("device claim: 2 jobs, 2 GPUs", SKIP, f"CUDA_VISIBLE_DEVICES={visible} is set: the launcher "
                        "assigns GPUs and claim_device takes cuda:0 by design"))
    else:
        try:
            reports = claimants(2, {k: v for k, v in env.items() if k != "CUDA_VISIBLE_DEVICES"}, timeout)
            devices, gpus = [r["device"] for r in reports], [r["gpu"] for r in reports]
            ok = len(set(devices)) == 2 and len(set(gpus)) == 2 and all(
                r["current"] == int(r["device"].split(":")[1]) for r in reports)
            rows.append(Row("device claim: 2 jobs, 2 GPUs", PASS if ok else FAIL,
                            f"{n} GPUs; concurrent jobs got {' and '.join(devices)} ({' / '.join(gpus)})"))
        except Exception as err:  # a crash of the claim is this check's verdict, not the script's
            rows.append(Row("device claim: 2 jobs, 2 GPUs", FAIL, f"{type(err).__name__}: {err}"))
    # CUDA_VISIBLE_DEVICES=<the last GPU> (as the parent names it): the child must take cuda:0 = that GPU.
    last = n - 1
    choice = visible.split(",")[last] if visible else str(last)
    try:
        (report,) = claimants(1, {**env, "CUDA_VISIBLE_DEVICES": choice}, timeout)
        ok = report["device"] == "cuda:0" and report["gpu"] == gpu_identity(last)
        rows.append(Row("device claim: CUDA_VISIBLE_DEVICES", PASS if ok else FAIL,
                        f"CUDA_VISIBLE_DEVICES={choice}: job got {report['device']} = {report['gpu']} "
                        f"(this process's cuda:{last} is {gpu_identity(last)})"))
    except Exception as err:
        rows.append(Row("device claim: CUDA_VISIBLE_DEVICES", FAIL, f"{type(err).__name__}: {err}"))
    return rows


# --- tiny study through snakemake ----------------------------------------------------------------------


def check_tiny_study(scratch: Path, timeout: float) -> list[Row]:
    if not torch.cuda.is_available():
        return [Row("tiny study on CUDA (snakemake)", SKIP, "no CUDA")]
    from tests.snakemake_runs import SNAKEMAKE, copy_workflow  # the workflow tests' copy of the repo

    if timeout < 30:
        return [Row("tiny study on CUDA (snakemake)", SKIP, f"only {timeout:.0f} s of the budget left")]
    work = copy_workflow(scratch / "tiny")
    gpus = torch.cuda.device_count()
    env = {**os.environ, **ENV_SRC, "RECALL_DISTORTION_GPU_LOCK_DIR": str(scratch / "tiny-locks")}
    t0 = time.perf_counter()
    with open(scratch / "snakemake.stderr", "w") as err:
        code, _, timed_out = run_boxed([str(SNAKEMAKE), "--configfile", "tiny.yaml", "--cores", str(max(2, gpus)),
                                        "--resources", f"gpu={gpus}"], timeout, cwd=work, env=env, stderr=err)
    seconds = time.perf_counter() - t0
    if timed_out:
        return [Row("tiny study on CUDA (snakemake)", FAIL, f"not finished after {timeout:.0f} s (time box)")]
    if code != 0:
        errors = [line for line in (scratch / "snakemake.stderr").read_text().splitlines() if "rror" in line]
        return [Row("tiny study on CUDA (snakemake)", FAIL, f"snakemake exit {code}: {' / '.join(errors[:3])[:300]}")]
    logs = list((work / "results" / "tiny" / "logs").rglob("*.log"))
    on_cuda = [p for p in logs if "claimed cuda:" in p.read_text() or "CUDA_VISIBLE_DEVICES=" in p.read_text()]
    on_cpu = [p for p in logs if "using the CPU" in p.read_text()]
    ok = bool(on_cuda) and not on_cpu
    return [Row("tiny study on CUDA (snakemake)", PASS if ok else FAIL,
                f"{seconds:.0f} s; {len(on_cuda)} GPU jobs on CUDA, {len(on_cpu)} on the CPU (job logs)")]


# --- vmap against sequential, determinism --------------------------------------------------------------


class Conv32:
    """Within the block, cuDNN and matrix products in strict fp32 ("ieee") or as torch defaults them
    ("tf32": TF32 convolutions on Ampere and later). Only the new fp32_precision flags are touched, all
    of cuDNN's alike: torch refuses to read its legacy allow_tf32 flag when conv and rnn disagree."""

    FLAGS = (torch.backends.cudnn.conv, torch.backends.cudnn.rnn, torch.backends.cuda.matmul)

    def __init__(self, precision: str):
        self.precision = precision

    def __enter__(self):
        self.saved = [flag.fp32_precision for flag in self.FLAGS]
        if self.precision == "ieee":
            for flag in self.FLAGS:
                flag.fp32_precision = "ieee"

    def __exit__(self, *exc):
        for flag, value in zip(self.FLAGS, self.saved):
            flag.fp32_precision = value


def small_run(config: dict, device, steps: int, dtype=torch.float32, seeds=(0, 1, 2)):
    """ResNet-20 on random CIFAR-shaped images (128 a step, 2 epochs of steps/2) with pruning masks that
    keep a random half of each convolution: the fine-tune path, BatchNorm and augmentation included.
    (models, data, hparams, masks) for `sequential` and `together`."""
    shape = [10, 3, 32]
    n = 64 * steps
    x, y = random_split("cifar10", shape, n + 128, device)
    data = {"train": (x[:n].to(dtype), y[:n]), "val": (x[n:].to(dtype), y[n:])}
    hp = hparams(config, "resnet20", 2)
    masks = []
    for seed in seeds:
        gen = torch.Generator().manual_seed(1000 + seed)
        model = new_models("resnet20", shape, [seed], "cpu")[0]
        masks.append({name: (torch.rand(p.shape, generator=gen) < 0.5).to(device)
                      for name, p in model.named_parameters() if p.dim() == 4})
    build = lambda: [m.to(dtype) for m in new_models("resnet20", shape, seeds, device)]  # noqa: E731
    return seeds, build, data, hp, masks


def sequential(seeds, build, data, hp, masks) -> list[dict]:
    out = []
    for seed, model, held in zip(seeds, build(), masks):
        train(model, data, hp, seed=seed, augment=augment_batch, masks=held)
        out.append({k: v.detach().clone() for k, v in model.state_dict().items()})
    return out


def together(seeds, build, data, hp, masks) -> list[dict]:
    models = build()
    train_many(models, data, hp, seeds=list(seeds), augment=augment_batch, masks=masks)
    return [{k: v.detach().clone() for k, v in model.state_dict().items()} for model in models]


def relative_difference(a: list[dict], b: list[dict]) -> float:
    """Largest over models of ||a - b|| / ||b||, all floating-point weights and statistics of a model
    as one vector (a per-tensor ratio would be ruled by the near-zero BatchNorm biases)."""
    def norm(state, other=None):
        return math.sqrt(sum(float(((t.double() - (other[k].double() if other else 0)) ** 2).sum())
                             for k, t in state.items() if t.is_floating_point()))
    return max(norm(sa, sb) / norm(sb) for sa, sb in zip(a, b))


def largest_difference(a: list[dict], b: list[dict]) -> float:
    return max(float((sa[k].double() - sb[k].double()).abs().max()) for sa, sb in zip(a, b) for k in sa)


# (label, dtype, convolution precision, SGD steps, tolerance on the relative difference). float64 checks
# the computation itself (the two paths agree to 1e-9 in float64 on CPU, tests/test_multiseed.py); in
# float32 the paths sum in another order, and such differences grow step after step on these random
# labels (on CPU: 1e-6 after 2 steps, 1e-5 after 4), so fp32 is compared after 2 steps, where TF32's
# 10-bit mantissa rounds inputs that differ in their last bits to values 1e-3 apart.
VMAP_CASES = (("float64", torch.float64, "ieee", 8, 1e-9), ("fp32", torch.float32, "ieee", 2, 1e-4),
              ("fp32 with TF32 convolutions, the default", torch.float32, "tf32", 2, 1e-2))


def check_vmap_and_determinism(config: dict, device: torch.device) -> list[Row]:
    """vmap against sequential, and two identical runs of each, on `device` (the self-check passes CUDA)."""
    rows = []
    for label, dtype, precision, steps, tolerance in VMAP_CASES:
        run = small_run(config, device, steps, dtype)
        try:
            with Conv32(precision):
                seq, vm = sequential(*run), together(*run)
        except Exception as err:  # a crash on this device is this check's verdict
            rows.append(Row(f"vmap = sequential ({label})", FAIL, f"{type(err).__name__}: {err}"[:300]))
            continue
        rel = relative_difference(vm, seq)
        masks = run[-1]
        zero = all(bool((state[name][~held[name]] == 0).all()) for state, held in zip(vm, masks) for name in held)
        rows.append(Row(f"vmap = sequential ({label})", PASS if rel <= tolerance and zero else FAIL,
                        f"ResNet-20, 3 seeds, masks, {steps} SGD steps: relative weight difference {rel:.1e} "
                        f"(tolerance {tolerance:g}); pruned weights {'stay' if zero else 'do NOT stay'} zero"))
    run = small_run(config, device, 8)  # as jobs run: fp32, default precision, deterministic cuDNN
    for name, path in (("train", sequential), ("train_many", together)):
        try:
            diff = largest_difference(path(*run), path(*run))
        except Exception as err:
            rows.append(Row(f"determinism: `{name}` twice", FAIL, f"{type(err).__name__}: {err}"[:300]))
            continue
        rows.append(Row(f"determinism: `{name}` twice", INFO, "bitwise identical after 8 SGD steps" if diff == 0
                        else f"differ by up to {diff:.1e} (absolute) after 8 SGD steps"))
    return rows


# --- throughput ----------------------------------------------------------------------------------------


def variant_label(v: dict) -> str:
    path = "1 seed (`train`)" if v["path"] == "single" else f"vmap K={v['seeds']}"
    flags = [flag for flag in ("bf16", "channels_last", "compile") if v.get(flag)]
    return path + (" " + " ".join(flags) if flags else " fp32")


def variants(seed_counts: list[int]) -> list[dict]:
    """What to time, most important first (a time box cuts the tail): `train` and `train_many` in fp32,
    then channels_last, bf16 and compile; K=None means the largest K that ran in fp32."""
    out = [{"path": "single", "seeds": 1}] + [{"path": "vmap", "seeds": k} for k in seed_counts]
    out += [{"path": "single", "seeds": 1, "channels_last": True}]
    out += [{"path": "vmap", "seeds": None, "bf16": True}, {"path": "vmap", "seeds": None, "compile": True},
            {"path": "vmap", "seeds": None, "bf16": True, "compile": True}]
    return out


def worker(job: dict) -> None:
    """Child process: time job["variants"] of one model, one JSON line per finished measurement."""
    setup_job(job["log"], job["threads"])
    device = torch.device(job["device"])
    bs, shape = job["batch_size"], job["shape"]
    n_max = job["max_steps"] * bs
    x, y = random_split(job["dataset"], shape, n_max + n_max // 9 + 1, device)
    train_x, train_y, val_x, val_y = x[:n_max], y[:n_max], x[n_max:], y[n_max:]
    channels_last = (train_x.contiguous(memory_format=torch.channels_last),
                     val_x.contiguous(memory_format=torch.channels_last))
    augment = augment_batch if job["augment"] else None
    step_seconds: dict[tuple, float] = {}  # (path, K, bf16) -> seconds per step, from eager runs
    largest = None

    def timed_epoch(v: dict, steps: int, epochs: int) -> float:
        n = steps * bs
        xs = channels_last if v.get("channels_last") else (train_x, val_x)
        data = {"train": (xs[0][:n], train_y[:n]), "val": (xs[1][:max(1, n // 9)], val_y[:max(1, n // 9)])}
        hp = hparams(job["config"], job["model"], epochs)
        models = new_models(job["model"], shape, range(v["seeds"]), device)
        if job["device"] == "cuda":
            torch.cuda.synchronize()
        if v["path"] == "single":
            model = models[0].to(memory_format=torch.channels_last) if v.get("channels_last") else models[0]
            log = train(model, data, hp, seed=0, augment=augment).log
        else:
            if v.get("compile"):
                torch.compiler.reset()  # each train_many compiles afresh; no stale cache entries
            log = train_many(models, data, hp, seeds=list(range(v["seeds"])), augment=augment,
                             bf16=bool(v.get("bf16")), compile=bool(v.get("compile")))[0].log
        return float(log["seconds"].iloc[-1])  # an epoch ends with a host sync: the device is done

    for i, v in enumerate(job["variants"]):
        if v["seeds"] is None:
            if largest is None:
                continue
            v = {**v, "seeds": largest}
        budget = (job["deadline"] - time.time()) / (len(job["variants"]) - i)
        key = (v["path"], v["seeds"], bool(v.get("bf16")))
        try:
            if v.get("compile"):  # one call: compilation and a warm-up epoch, then the timed one
                if key not in step_seconds:
                    raise RuntimeError("its eager twin did not run, so the steps cannot be sized")
                steps = int(min(job["max_steps"], max(MIN_STEPS, budget / (2 * step_seconds[key]))))
                seconds = timed_epoch(v, steps, 2)
            else:
                probe = timed_epoch(v, PROBE_STEPS, 2)  # epoch 1 warms up, epoch 2 times PROBE_STEPS steps
                steps = int(min(job["max_steps"], max(MIN_STEPS, budget / (probe / PROBE_STEPS) - 2 * PROBE_STEPS)))
                seconds = timed_epoch(v, steps, 1)  # warm: same shapes, kernels and allocator
                step_seconds[key] = seconds / steps
            if v["path"] == "vmap" and not v.get("bf16") and not v.get("compile"):
                largest = max(largest or 0, v["seeds"])
            result = {"status": "ok", "seconds": seconds, "steps": steps, "images": steps * bs}
        except torch.OutOfMemoryError:
            result = {"status": "out of memory"}
        except Exception as err:  # reported in the table; the next variant still runs
            result = {"status": f"{type(err).__name__}: {err}"[:200]}
        if job["device"] == "cuda":
            torch.cuda.empty_cache()
        print(json.dumps({"variant": v, **result}), flush=True)


def run_worker(job: dict, timeout: float, scratch: Path) -> tuple[list[dict], bool]:
    """A worker's reports, and whether the time box cut it short."""
    with open(scratch / f"{job['model']}.stderr", "w") as err:
        code, out, timed_out = run_boxed([sys.executable, __file__, "--worker", json.dumps(job)], timeout,
                                         stderr=err, env={**os.environ, **ENV_SRC})
    reports = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    if code != 0 and not timed_out and not reports:
        tail = (scratch / f"{job['model']}.stderr").read_text().strip().splitlines()[-1:]
        reports = [{"variant": None, "status": f"worker failed: {' '.join(tail)[:200]}"}]
    return reports, timed_out


def throughput(config: dict, models: tuple[str, ...], args, deadline: float, scratch: Path, cuda: bool):
    """Rows for the table and {(path, K): {model: seconds per image per seed}} of the fp32 runs."""
    rows, rates = [], {}
    seed_counts = [int(k) for k in args.seeds.split(",")]
    todo = list(models)
    for model in models:
        left = deadline - time.time()
        box = left * SHARE[model] / sum(SHARE[m] for m in todo)
        todo.remove(model)
        where = shape_of(config, model)
        job = {"model": model, "device": "cuda" if cuda else "cpu", "threads": args.threads, "config": config,
               "batch_size": int(config["models"][model]["finetune"]["batch_size"]), "max_steps": args.max_steps,
               "variants": variants(seed_counts), "deadline": time.time() + box - 2,
               "log": str(scratch / f"{model}.log"), **where}
        reports, timed_out = run_worker(job, box, scratch)
        single = None
        for r in reports:
            v = r["variant"]
            label = f"{model}: {variant_label(v) if v else 'throughput'}"
            if r["status"] != "ok":
                rows.append(Row(label, "not measured", r["status"]))
                continue
            per_image = r["seconds"] / (v["seeds"] * r["images"])
            rate = 1.0 / (per_image * where["images"])  # seed-epochs/s of the study's training split
            if v["path"] == "single" and not v.get("channels_last"):
                single = rate
            if not (v.get("bf16") or v.get("compile") or v.get("channels_last")):
                rates.setdefault((v["path"], v["seeds"]), {})[model] = per_image
            versus = f"{rate / single:.2f}x one seed per process; " if single else ""
            rows.append(Row(label, f"{rate:.3g} seed-epochs/s",
                            f"{versus}{r['steps']} steps timed in {r['seconds']:.1f} s; per epoch of "
                            f"{where['images']:,} {where['dataset']} images at {where['shape'][2]} px"))
        missing = len(job["variants"]) - len(reports)
        if timed_out and missing:
            rows.append(Row(f"{model}: {missing} more variant(s)", "not measured",
                            f"time box of {box:.0f} s reached (raise --budget)"))
    return rows, rates


def projection_rows(config: dict, rates: dict, unit: str) -> list[Row]:
    plan = workloads(config)
    settings = {("single", 1): Setting(SEQUENTIAL, 1)}
    settings.update({("vmap", k): Setting(VMAP, k) for path, k in rates if path == "vmap"})
    projections = [project(plan, rates[key], setting) for key, setting in settings.items() if key in rates]
    rows = []
    for p in projections:
        notes = []
        if p.fitted:
            notes.append(f"{', '.join(p.fitted)} fitted linearly in depth from the measured ResNets")
        if p.missing:
            notes.append(f"{', '.join(p.missing)} not measured: left out")
        rows.append(Row(f"projection: {p.setting}", f"{p.hours:,.1f} {unit}",
                        f"dense {p.dense_hours:,.1f} + fine-tune {p.finetune_hours:,.1f}"
                        + (f"; {'; '.join(notes)}" if notes else "")))
    choice = best(projections)
    if choice is None:
        return [Row("projection", "not measured", "no rate was measured")]
    sequential = next((p for p in projections if p.setting.multi_seed == SEQUENTIAL), None)
    gain = (f" ({sequential.hours / choice.hours:.2f}x less than sequential)"
            if sequential and choice is not sequential and choice.hours else "")
    covered = [w for w in plan if w.model not in choice.missing]
    rows.append(Row("best setting", str(choice.setting), f"{choice.hours:,.1f} {unit} for "
                    f"{sum(w.seeds * (1 + w.finetune_runs) for w in covered):,} of the "
                    f"{sum(w.seeds * (1 + w.finetune_runs) for w in plan):,} trainings{gain}; fp32, as a job runs"))
    return rows


def machine_rows(cuda: bool, threads: int) -> list[Row]:
    versions = f"torch {torch.__version__}, Python {platform.python_version()}"
    if not cuda:
        return [Row("CUDA", "no CUDA", f"{versions}: no CUDA device, so GPU checks are skipped; LeNet5 timed on "
                    f"the CPU ({threads} thread{'s' if threads > 1 else ''}, as a job runs)")]
    names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return [Row("CUDA", f"{len(names)} GPU{'s' if len(names) > 1 else ''}",
                f"{', '.join(names)}; {versions}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, help="seconds in all (default 290 with CUDA, 60 without)")
    parser.add_argument("--seeds", default="1,4,8,16", help="seeds per process K for train_many")
    parser.add_argument("--max-steps", type=int, default=300, help="SGD steps timed per measurement at most")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (a job uses 1)")
    parser.add_argument("--config", default=str(ROOT / "config" / "paper.yaml"), help="study to project")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return 0
    start = time.time()
    cuda = torch.cuda.is_available()
    deadline = start + (args.budget if args.budget is not None else (290.0 if cuda else 60.0))
    config = yaml.safe_load(open(args.config))
    check_config(config)  # the schema's defaults filled in, as the workflow sees the config
    with tempfile.TemporaryDirectory(prefix="recall_distortion-gpu-check-") as tmp:
        scratch = Path(tmp)
        setup_job(scratch / "gpu_check.log", args.threads)  # the jobs' threads and cuDNN settings
        rows = machine_rows(cuda, args.threads)
        rows += check_device_claim(scratch)
        rows += (check_vmap_and_determinism(config, torch.device("cuda")) if cuda else
                 [Row("vmap = sequential on CUDA", SKIP, "no CUDA"), Row("determinism on CUDA", SKIP, "no CUDA")])
        if cuda:
            torch.cuda.empty_cache()  # the GPU to the jobs and workers that follow
        rows += check_tiny_study(scratch, timeout=min(120.0, deadline - time.time() - 120))
        models = GPU_MODELS if cuda else CPU_MODELS
        measured, rates = throughput(config, models, args, deadline, scratch, cuda)
        rows += measured
        unit = "GPU-hours" if cuda else "CPU core-hours"
        rows += projection_rows(config, rates, unit)
    logging.shutdown()
    print(f"\n**GPU self-check** ({'CUDA' if cuda else 'CPU only: no CUDA'}; {time.time() - start:.0f} s; "
          f"projection of {args.config})\n")
    print(table(rows))
    return 1 if cuda and any(r.result == FAIL for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
