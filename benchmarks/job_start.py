"""Child process of benchmarks/run.py: what a train_dense or evaluate job does before its real work.

Usage: job_start.py train|evaluate START DATA CHECKPOINT LOG, START being the parent's time.time()
just before it started this process, so the interpreter's own start-up is counted. Prints, as JSON,
the seconds since START at each milestone: imports, data on the device, model (and optimiser or
checkpoint), first SGD step (train) or first model evaluated (evaluate). Not a test: a figure for
the per-job fixed cost (issue 7).
"""

import json
import sys
import time

kind, start, data, checkpoint, log = sys.argv[1], float(sys.argv[2]), *sys.argv[3:6]
marks = {"interpreter up": time.time() - start}

import torch  # noqa: E402  (imports are part of what is measured)

from recall_distortion.device import claim_device  # noqa: E402
from recall_distortion.evaluation import evaluate  # noqa: E402
from recall_distortion.stages.files import load_checkpoint, load_splits_as_tensors, new_model, setup_job  # noqa: E402
from recall_distortion.stages.finetune import finetune  # noqa: E402, F401  (what a job script imports)
from recall_distortion.stages.train import train_dense  # noqa: E402, F401
from recall_distortion.training import init_seed, train  # noqa: E402

marks["imports"] = time.time() - start
setup_job(log, 1)
with claim_device() as device:
    if kind == "train":
        splits = load_splits_as_tensors(data, "digits", 32, device, splits=("train", "val"))
        marks["data on device"] = time.time() - start
        init_seed(0)
        net = new_model("digits", "lenet5", 32, device)
        marks["model built"] = time.time() - start
        x, y = splits["train"]
        one_batch = {"train": (x[:128], y[:128]), "val": (x[:128], y[:128])}
        train(net, one_batch, {"epochs": 1, "batch_size": 128, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4,
                               "nesterov": False, "eval_batch_size": 1024, "schedule": {"name": "constant"}}, seed=0)
        marks["first SGD step"] = time.time() - start  # through training.fit, validation included
    else:
        (x, y), = load_splits_as_tensors(data, "digits", 32, device, splits=("test",)).values()
        marks["data on device"] = time.time() - start
        net = new_model("digits", "lenet5", 32, device)
        net.load_state_dict(load_checkpoint(checkpoint)["seeds"][0]["state"])
        marks["checkpoint loaded"] = time.time() - start
        evaluate(net, x, y, 10)  # first call imports sklearn.metrics
        marks["first model evaluated"] = time.time() - start
print(json.dumps(marks))
