"""Recall distortion under network pruning (Good et al., NeurIPS 2022).

One concept per module:

- ``data``       registry of datasets (``spec``, ``catalog``); IDX and CIFAR pickle readers (``formats``);
                 files, MD5s and downloads (``files``); stratified train/validation/test splits as
                 uint8 arrays (``splits``); normalization, resize and augmentation (``tensors``).
- ``models``     registry of architectures: LeNet5 and the CIFAR ResNets of He et al. (2016).
- ``training``   SGD training/fine-tuning on in-memory tensors, best-validation checkpoint, resume.
- ``pruning``    global unstructured one-shot pruning: score registry (MP, GP, UP, RP), exact top-k
                 masks, the paper's compression ratio (section 3-4).
- ``evaluation`` per-class test metrics of a checkpoint as a long-format table.
- ``metrics``    recall balance B, normalized recall balance B-bar, intensification ratio I, alpha
                 (sections 4-5), recall variance (appendix F).
- ``stages``     one function per workflow stage; the Snakemake scripts only call these.
- ``analysis``   confidence intervals, t-tests, tables, figures and the findings summary (6.2, 7, A-F).
- ``atomic``     write-then-rename helpers so no reader ever sees a half-written file.
- ``device``     CUDA when present, CPU otherwise; one GPU per job on multi-GPU machines.
"""

__version__ = "0.1.0"
