"""One function per workflow stage; each Snakemake rule script calls exactly one of them.

Stages handle a *group* of seeds (``seeds_per_job``) one after the other, so that a job's start-up
cost (Python, torch, reading the data) is paid once per group; the numbers do not depend on the
grouping because every seed re-seeds everything it uses.
"""
