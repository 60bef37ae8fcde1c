"""Tests for the GPU self-check (benchmarks/gpu_check.py) and its cost arithmetic (benchmarks/projection.py).

The projection is checked against hand-computed hours; the CPU path runs for real in a subprocess with
CUDA hidden and a short time box, and its printed projection must follow from its printed rate.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.model_selection import train_test_split

from benchmarks import projection as pj
from tests.configs import check_config

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "gpu_check.py"


@pytest.mark.parametrize("n", [60_000, 50_000, 1_437, 1_797, 101])
@pytest.mark.parametrize("fraction", [0.1, 0.15, 0.3])
def test_fit_images_is_what_train_test_split_keeps(n, fraction):
    kept, _ = train_test_split(np.arange(n), test_size=fraction, random_state=0)
    assert pj.fit_images(n, fraction) == len(kept)


def test_paper_splits_are_54k_54k_45k():
    assert (pj.fit_images(60_000, 0.1), pj.fit_images(50_000, 0.1)) == (54_000, 45_000)


def test_workloads_of_the_paper_config():
    config = yaml.safe_load(open(REPO / "config" / "paper.yaml"))
    check_config(config)
    plan = {(w.dataset, w.model): w for w in pj.workloads(config)}
    assert len(plan) == 8
    r56 = plan["cifar10", "resnet56"]
    # mp at the union {2,4,10,20,50} + {2,4,6,8,10} = 7 ratios; gp, up, rp at 5 each
    assert (r56.images, r56.seeds, r56.dense_epochs, r56.finetune_runs, r56.finetune_epochs) == (45_000, 30, 60, 22, 15)
    assert plan["cifar10", "resnet20"].finetune_runs == 10  # mp and up at 5 ratios
    assert plan["cifar100", "resnet56"].finetune_runs == 5
    assert (plan["mnist", "lenet5"].images, plan["mnist", "lenet5"].dense_epochs) == (54_000, 30)
    assert plan["fashion_mnist", "lenet5"].images == 54_000
    # 240 dense trainings and the "about 2,300" fine-tunes: 30 * (22 + 4*10 + 3*5) = 2,310
    assert sum(w.seeds for w in plan.values()) == 240
    assert sum(w.seeds * w.finetune_runs for w in plan.values()) == 2_310


TWO = {  # two experiments, 3 seeds
    "seeds": 3,
    "datasets": {"mnist": {"val_fraction": 0.1}, "cifar10": {"val_fraction": 0.1}},
    "models": {"lenet5": {"train": {"epochs": 2}, "finetune": {"epochs": 1}},
               "resnet20": {"train": {"epochs": 4}, "finetune": {"epochs": 2}}},
    "families": [{"name": "a", "kind": "method", "experiments": [{"dataset": "mnist", "model": "lenet5"}],
                  "methods": ["mp"], "ratios": [2, 4]},
                 {"name": "b", "kind": "method", "experiments": [{"dataset": "cifar10", "model": "resnet20"}],
                  "methods": ["mp", "up"], "ratios": [2]}],
}
RATES = {"lenet5": 1e-5, "resnet20": 1e-4}  # seconds per image per seed


def test_projection_of_two_experiments_by_hand():
    plan = pj.workloads(TWO)
    # lenet5: 3 seeds * (2 dense + 2 ratios * 1 fine-tune epoch) = 12 seed-epochs of 54,000 images at 1e-5 s
    #   = 6.48 s (dense 3.24, fine-tune 3.24)
    # resnet20: 3 * (4 + 2 methods * 1 ratio * 2 epochs) = 24 seed-epochs of 45,000 images at 1e-4 s = 108 s
    #   (dense 54, fine-tune 54)
    p = pj.project(plan, RATES, pj.Setting(pj.SEQUENTIAL, 1))
    assert p.dense_hours == pytest.approx((3.24 + 54) / 3600)
    assert p.finetune_hours == pytest.approx((3.24 + 54) / 3600)
    assert p.hours == pytest.approx(114.48 / 3600)
    assert p.by_model == pytest.approx({"lenet5": 6.48 / 3600, "resnet20": 108 / 3600})
    assert p.missing == p.fitted == ()
    # vmap in groups of 2: the 3 seeds cost 4 (the last group of 1 is charged as a full one)
    v = pj.project(plan, RATES, pj.Setting(pj.VMAP, 2))
    assert v.hours == pytest.approx(114.48 * 4 / 3 / 3600)
    # seeds_per_job does not change a sequential job's cost
    assert pj.project(plan, RATES, pj.Setting(pj.SEQUENTIAL, 2)).hours == pytest.approx(p.hours)
    # a model without a rate is left out and named
    only = pj.project(plan, {"resnet20": 1e-4}, pj.Setting(pj.SEQUENTIAL, 1))
    assert only.missing == ("lenet5",) and only.hours == pytest.approx(108 / 3600)


def test_projection_counts_appendix_h_families_by_hand():
    """An LTH chain (3 levels of the model's 4 train epochs, 2 seeds) and two CHIP ratios (2 fine-tunes
    of 2 epochs, 2 seeds) on the ResNet-20 of TWO add 2*3*4 + 2*2*2 = 32 seed-epochs of 45,000 images
    at 1e-4 s = 144 s of training after pruning."""
    resnet = {"dataset": "cifar10", "model": "resnet20"}
    config = {**TWO, "families": TWO["families"] + [
        {"name": "lth", "kind": "iterative", "experiments": [resnet], "levels": 3, "rate": 0.2,
         "rewind": {"steps": 0}, "hparams": None, "seeds": 2},
        {"name": "chip", "kind": "structured", "experiments": [resnet], "methods": ["chip"], "ratios": [1.75, 3.33],
         "score_batches": 5, "score_batch_size": 128, "seeds": 2}]}
    base = pj.project(pj.workloads(TWO), RATES, pj.Setting(pj.SEQUENTIAL, 1))
    with_h = pj.project(pj.workloads(config), RATES, pj.Setting(pj.SEQUENTIAL, 1))
    assert with_h.dense_hours == pytest.approx(base.dense_hours)
    assert with_h.finetune_hours - base.finetune_hours == pytest.approx(144 / 3600)
    # vmap in groups of 4: each 2-seed Appendix H family is charged 4 seeds, the 3-seed study 4
    v4 = pj.project(pj.workloads(config), RATES, pj.Setting(pj.VMAP, 4))
    assert v4.hours == pytest.approx((114.48 * 4 / 3 + 2 * 144) / 3600)


def test_charged_seeds():
    assert [pj.charged_seeds(30, k) for k in (1, 4, 8, 10, 16, 32)] == [30, 32, 32, 30, 32, 32]
    with pytest.raises(ValueError):
        pj.charged_seeds(30, 0)


def test_unmeasured_resnets_follow_the_line_through_the_measured_depths():
    measured = {"resnet20": 2e-5, "resnet56": 5e-5}  # 3e-5 more per 36 layers
    assert pj.seconds_per_image("resnet20", measured) == (2e-5, False)
    for model, expected in (("resnet32", 2e-5 + 12 * 3e-5 / 36), ("resnet44", 4e-5), ("resnet110", 9.5e-5)):
        seconds, fitted = pj.seconds_per_image(model, measured)
        assert fitted and seconds == pytest.approx(expected)
    # three depths: least squares, as numpy fits it
    three = {**measured, "resnet32": 2.5e-5}
    slope, intercept = np.polyfit([20, 56, 32], [2e-5, 5e-5, 2.5e-5], 1)
    assert pj.seconds_per_image("resnet110", three)[0] == pytest.approx(intercept + 110 * slope)
    assert pj.seconds_per_image("resnet44", {"resnet20": 2e-5}) is None  # one depth: no line
    assert pj.seconds_per_image("lenet5", measured) is None
    assert pj.resnet_depth("resnet110") == 110 and pj.resnet_depth("lenet5") is None


def projection(setting, hours, missing=()):
    return pj.Projection(setting, hours, 0.0, {}, tuple(missing), ())


def test_best_setting():
    seq = projection(pj.Setting(pj.SEQUENTIAL, 1), 100.0)
    v4, v8, v16 = (projection(pj.Setting(pj.VMAP, k), h) for k, h in ((4, 40.0), (8, 30.0), (16, 30.0)))
    assert pj.best([seq, v4, v8, v16]).setting == pj.Setting(pj.VMAP, 8)  # tie at 30 h: fewer seeds per job
    assert pj.best([seq, projection(pj.Setting(pj.VMAP, 4), 96.0)]) is seq  # 4% is within the 5% margin
    assert pj.best([seq, projection(pj.Setting(pj.VMAP, 4), 94.0)]).setting.seeds_per_job == 4
    # a setting whose rates cover fewer models is not cheaper for it
    partial = projection(pj.Setting(pj.VMAP, 16), 10.0, missing=("resnet56",))
    assert pj.best([seq, v4, partial]) is v4
    assert pj.best([]) is None
    assert str(v8.setting) == "multi_seed: vmap, seeds_per_job: 8" and str(seq.setting) == "multi_seed: sequential"


def test_cpu_path_end_to_end(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "",
           "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO / "src"), os.environ.get("PYTHONPATH"))))}
    done = subprocess.run([sys.executable, str(SCRIPT), "--budget", "12", "--max-steps", "20", "--seeds", "1,2"],
                          capture_output=True, text=True, env=env, timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "| CUDA | no CUDA |" in out
    for check in ("device claim", "vmap = sequential on CUDA", "determinism on CUDA", "tiny study on CUDA (snakemake)"):
        assert f"| {check} | skipped | no CUDA |" in out
    # the projection follows from the printed rate: LeNet5 in config/paper.yaml is 2 datasets x 30 seeds x
    # (30 dense + 5 ratios x 15 fine-tune epochs) = 6,300 seed-epochs of 54,000 images
    rate = float(re.search(r"\| lenet5: 1 seed \(`train`\) fp32 \| ([\d.e+-]+) seed-epochs/s \|", out).group(1))
    hours = float(re.search(r"\| projection: multi_seed: sequential \| ([\d,.]+) CPU core-hours \|", out)
                  .group(1).replace(",", ""))
    assert hours == pytest.approx(6_300 / rate / 3600, rel=0.01, abs=0.05)
    assert "resnet56" in out and "not measured: left out" in out
    assert re.search(r"\| best setting \| multi_seed: (sequential|vmap, seeds_per_job: \d+) \| [\d,.]+ CPU core-hours "
                     r"for 360 of the 2,550 trainings", out)  # LeNet5: 2 datasets x 30 seeds x (1 + 5 ratios)


def running(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie (dead, waiting to be reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_time_box_kills_the_whole_process_group():
    # a child that starts a grandchild (as snakemake starts jobs, a worker its compile processes)
    from benchmarks.gpu_check import run_boxed

    start = time.monotonic()
    code, out, timed_out = run_boxed(["sh", "-c", "sleep 60 & echo $!; wait"], timeout=1.0)
    assert timed_out and code == -signal.SIGKILL and time.monotonic() - start < 10
    grandchild, deadline = int(out.split()[0]), time.monotonic() + 5
    while running(grandchild) and time.monotonic() < deadline:  # SIGKILL is delivered asynchronously
        time.sleep(0.05)
    assert not running(grandchild)
    assert run_boxed(["sh", "-c", "echo done"], timeout=10) == (0, "done\n", False)
