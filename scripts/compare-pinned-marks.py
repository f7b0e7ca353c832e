#!/usr/bin/env python3
"""Compare the coverage marks of every pinned scenario seed between two builds.

A change that moves trace hashes (docs/determinism.md) may move a pinned seed (`seed = N` or
`regression_seeds = [...]` in a scenario file) off the race it was pinned for: the scenario
still passes, but no longer exercises what its header describes. This script runs every pinned
seed of every scenario with an old and a new `joinsim` binary, collects the coverage marks each
run hits (the `mark` entries of `--trace-out`), and prints the seeds whose new run misses a mark
the old run hit. For each such seed it searches the scenario's own seed range (`seeds = K`:
0..K, at most --search seeds) for seeds whose new run hits every one of the old marks.

Usage: scripts/compare-pinned-marks.py OLD_JOINSIM NEW_JOINSIM [--scenarios DIR] [--search N]
Exit 0 when every pinned seed keeps its marks, 1 otherwise, 2 on bad arguments.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile


def pinned_seeds(path):
    """The pinned seeds of a scenario file and its seed range (`seeds = K`)."""
    text = open(path, encoding="utf-8").read()
    pinned = []
    for m in re.finditer(r"^seed\s*=\s*(\d+)", text, re.M):
        pinned.append(int(m.group(1)))
    for m in re.finditer(r"^regression_seeds\s*=\s*\[([^\]]*)\]", text, re.M):
        pinned.extend(int(x) for x in re.findall(r"\d+", m.group(1)))
    m = re.search(r"^seeds\s*=\s*(\d+)", text, re.M)
    return pinned, int(m.group(1)) if m else 32


class RunFailed(Exception):
    """A run that wrote no trace: the binary is not joinsim, or refused the file."""


def marks(binary, path, seed, out):
    """The set of marks one run hits (a failed scenario run has marks too: exit 1 is fine)."""
    if os.path.exists(out):
        os.remove(out)
    done = subprocess.run(
        [binary, "run", path, "--seed", str(seed), "--trace-out", out],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1) or not os.path.exists(out):
        raise RunFailed(
            f"{binary} run {path} --seed {seed} exited {done.returncode} without a trace: "
            f"{done.stderr.strip()[-500:]}"
        )
    hit = set()
    with open(out, encoding="utf-8") as f:
        for line in f:
            if '"kind":"mark"' in line:
                hit.add(json.loads(line)["fields"]["value"])
    return hit


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--scenarios", default="scenarios")
    ap.add_argument("--search", type=int, default=200)
    args = ap.parse_args()
    for b in (args.old, args.new):
        version = subprocess.run([b, "--version"], capture_output=True, text=True, check=False) \
            if os.access(b, os.X_OK) else None
        if version is None or version.returncode != 0 or "joinsim" not in version.stdout:
            print(f"error: {b} is not an executable joinsim binary", file=sys.stderr)
            return 2
    if not os.path.isdir(args.scenarios):
        print(f"error: --scenarios {args.scenarios} is not a directory", file=sys.stderr)
        return 2
    if not 0 <= args.search <= 100_000:
        print("error: --search must lie in 0..=100000", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        try:
            return compare(args, os.path.join(scratch, "trace.jsonl"))
        except RunFailed as e:
            print(f"error: {e}", file=sys.stderr)
            return 2


def compare(args, out):
    """Every pinned seed, old marks against new; 0 when none is lost, 1 otherwise."""
    lost = 0
    checked = 0
    for name in sorted(os.listdir(args.scenarios)):
        if not name.endswith(".toml"):
            continue
        path = os.path.join(args.scenarios, name)
        pinned, span = pinned_seeds(path)
        for seed in pinned:
            checked += 1
            old = marks(args.old, path, seed, out)
            new = marks(args.new, path, seed, out)
            missing = sorted(old - new)
            if not missing:
                continue
            lost += 1
            found = [
                s
                for s in range(min(span, args.search))
                if old <= marks(args.new, path, s, out)
            ]
            print(f"{name} seed {seed}: misses {missing}; seeds hitting every old mark: {found[:10]}")
    print(f"{checked} pinned seeds, {lost} lost a mark")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
