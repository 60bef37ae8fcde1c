"""Tests for recall_distortion.device: one GPU per job on a multi-GPU machine, without a GPU.

The lock logic (`claim_slot`) is exercised with real concurrent processes (subprocesses that hold
a claimed slot for a known time and report the interval); `claim_device` with torch.cuda
monkeypatched to pretend there are GPUs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from recall_distortion import device as dev

SRC = str(Path(__file__).resolve().parents[1] / "src")

# A claimant: waits for a common start time, claims a slot, holds it for `hold` seconds and
# writes {"index", "start", "end", "launched"} as JSON. Imports only recall_distortion.device
# (no torch), so that a process starts in well under a second.
CLAIMANT = textwrap.dedent(
    """
    import json, sys, time
    from recall_distortion.device import claim_slot
    n, lock_dir, hold, go_at, out = sys.argv[1:]
    while time.time() < float(go_at):
        time.sleep(0.005)
    launched = time.time()
    slot = claim_slot(int(n), lock_dir, timeout=30, poll_interval=0.02)
    start = time.time()
    if float(hold) < 0:  # hold until killed
        open(out, "w").write(json.dumps({"index": slot.index, "start": start}))
        time.sleep(3600)
    time.sleep(float(hold))
    end = time.time()
    slot.release()
    open(out, "w").write(json.dumps(
        {"index": slot.index, "start": start, "end": end, "launched": launched}))
    """
)


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _spawn(n, lock_dir, hold, go_at, out):
    return subprocess.Popen(
        [sys.executable, "-c", CLAIMANT, str(n), str(lock_dir), str(hold), str(go_at), str(out)],
        env=_env(),
    )


def _run_claimants(tmp_path, n_devices, n_claimants, hold):
    lock_dir = tmp_path / "locks"
    go_at = time.time() + 1.5  # every process is up and waiting before the start signal
    outs = [tmp_path / f"claimant{i}.json" for i in range(n_claimants)]
    procs = [_spawn(n_devices, lock_dir, hold, go_at, out) for out in outs]
    for p in procs:
        assert p.wait(timeout=60) == 0
    return [json.loads(o.read_text()) for o in outs]


@pytest.mark.parametrize("n_devices", [2, 3])
def test_concurrent_claimants_never_share_a_device(tmp_path, n_devices):
    # 2N claimants, N devices: every device is used, and the hold intervals of the claimants of
    # one device never overlap.
    records = _run_claimants(tmp_path, n_devices, 2 * n_devices, hold=0.4)
    assert {r["index"] for r in records} == set(range(n_devices))
    for index in range(n_devices):
        spans = sorted((r["start"], r["end"]) for r in records if r["index"] == index)
        for (_, end_a), (start_b, _) in zip(spans, spans[1:]):
            assert start_b >= end_a, f"device {index} shared: {spans}"
    # at most N holders at any instant
    events = sorted([(r["start"], 1) for r in records] + [(r["end"], -1) for r in records])
    live = peak = 0
    for _, d in events:
        live += d
        peak = max(peak, live)
    assert peak <= n_devices


def test_claimant_beyond_pool_waits_for_a_release(tmp_path):
    # N = 2 devices, N + 1 claimants started together: two get a device at once, the last one
    # waits until one of them releases (it holds for 1 s), then takes the released device.
    hold = 1.0
    records = _run_claimants(tmp_path, 2, 3, hold=hold)
    records.sort(key=lambda r: r["start"])
    first, second, last = records
    assert {first["index"], second["index"]} == {0, 1}
    assert last["start"] - last["launched"] >= 0.8 * hold  # it did wait
    released = min(first["end"], second["end"])
    assert last["start"] >= released
    assert last["start"] - released < 2.0  # and took the device soon after the release
    assert last["index"] == (first if first["end"] == released else second)["index"]


def test_sigkilled_holder_frees_its_device(tmp_path):
    lock_dir = tmp_path / "locks"
    out = tmp_path / "holder.json"
    holder = _spawn(1, lock_dir, -1, time.time(), out)
    try:
        deadline = time.time() + 30
        while not out.exists():
            assert time.time() < deadline and holder.poll() is None
            time.sleep(0.02)
        assert json.loads(out.read_text())["index"] == 0
        # held: a claim times out with an error that names the holder
        with pytest.raises(dev.DeviceBusyError, match=f"pid {holder.pid}"):
            dev.claim_slot(1, lock_dir, timeout=0.2, poll_interval=0.05)
        os.kill(holder.pid, signal.SIGKILL)  # no cleanup handler can run
        holder.wait(timeout=10)
        t0 = time.monotonic()
        with dev.claim_slot(1, lock_dir, timeout=5, poll_interval=0.02) as slot:
            assert slot.index == 0
        assert time.monotonic() - t0 < 2.0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_in_process_claims_exclusive_and_released(tmp_path):
    a = dev.claim_slot(2, tmp_path, timeout=0)
    b = dev.claim_slot(2, tmp_path, timeout=0)
    assert (a.index, b.index) == (0, 1)
    with pytest.raises(dev.DeviceBusyError, match="all 2 GPU"):
        dev.claim_slot(2, tmp_path, timeout=0.1, poll_interval=0.02)
    a.release()
    a.release()  # idempotent
    c = dev.claim_slot(2, tmp_path, timeout=0)
    assert c.index == 0
    b.release()
    c.release()
    with pytest.raises(ValueError):
        dev.claim_slot(0, tmp_path)


def test_lock_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(dev.LOCK_DIR_ENV, str(tmp_path / "from-env"))
    assert dev.default_lock_dir() == tmp_path / "from-env"
    with dev.claim_slot(1, timeout=0) as slot:
        assert slot.path == tmp_path / "from-env" / "device0.lock"
    monkeypatch.delenv(dev.LOCK_DIR_ENV)
    assert dev.default_lock_dir().name == f"recall_distortion-gpu-locks-{os.getuid()}"


@pytest.fixture
def fake_cuda(monkeypatch):
    """Pretend there are 2 GPUs; record set_device calls."""
    calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: calls.append(d))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return calls


def test_cuda_visible_devices_respected_without_locking(tmp_path, monkeypatch, fake_cuda, caplog):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")  # e.g. set by Slurm for --gpus=1

    def no_lock(*a, **k):
        raise AssertionError("claim_slot must not be called when CUDA_VISIBLE_DEVICES is set")

    monkeypatch.setattr(dev, "claim_slot", no_lock)
    caplog.set_level("INFO", logger="recall_distortion.device")
    for _ in range(3):  # several jobs at once all get cuda:0 (their own, chosen by Slurm)
        claim = dev.claim_device(lock_dir=tmp_path)
        assert claim.device == torch.device("cuda", 0) and claim.slot is None
    assert list(tmp_path.iterdir()) == []
    assert "CUDA_VISIBLE_DEVICES=1" in caplog.text


def test_claim_device_picks_distinct_gpus(tmp_path, fake_cuda, caplog):
    caplog.set_level("INFO", logger="recall_distortion.device")
    with dev.claim_device(lock_dir=tmp_path) as d0:
        claim1 = dev.claim_device(lock_dir=tmp_path)
        assert d0 == torch.device("cuda", 0)
        assert claim1.device == torch.device("cuda", 1)
        assert fake_cuda == [d0, claim1.device]
        with pytest.raises(dev.DeviceBusyError):
            dev.claim_device(lock_dir=tmp_path, timeout=0.1)
        claim1.release()
        assert claim1 not in dev._HELD
        with dev.claim_device(lock_dir=tmp_path) as d1:
            assert d1 == torch.device("cuda", 1)
    assert "claimed cuda:0 of 2" in caplog.text


def test_claim_device_keeps_lock_without_a_reference(tmp_path, fake_cuda):
    # A job that keeps only `.device` must still hold its GPU after the claim object is dropped.
    import gc

    device = dev.claim_device(lock_dir=tmp_path).device
    gc.collect()
    with pytest.raises(dev.DeviceBusyError):
        dev.claim_slot(1, tmp_path, timeout=0)  # device0.lock still held
    assert device == torch.device("cuda", 0)
    for claim in list(dev._HELD):
        claim.release()


def test_claim_device_cpu_when_no_cuda(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with dev.claim_device(lock_dir=tmp_path) as d:
        assert d == torch.device("cpu")
    assert list(tmp_path.iterdir()) == []
    assert dev.default_device() == torch.device("cpu")
