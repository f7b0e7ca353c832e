#!/usr/bin/env python3
"""Measure the README's figures and print them (or write them into README.md).

One command for every figure of the README's "Figures" section that a machine can measure in a
few minutes (issue 13): the demo's runs per second, the madsim world against the synchronous
driver, the scaling table, fuzzing throughput with the default weather, the main job's wall time,
and memory. Release build; each figure is the median of --repeat measurements, and ratios are
quoted beside the absolute figures, which move by ±20% on a shared machine.

Usage: scripts/figures.py [--write README.md] [--quick] [--repeat N] [--sizes 1,5,20,...]
  --write FILE   replace the block between "<!-- figures:begin -->" and "<!-- figures:end -->"
                 in FILE (README.md) with the new figures; without it, print them
  --quick        small counts (a smoke run of this script, about a minute)
  --repeat N     measurements per figure, 1..=9 (default 3; the median is quoted)
  --sizes LIST   cluster sizes of the scaling table (default 1,5,20,50,100,200,500)
Exit 0 when every measurement ran, 1 when one failed, 2 on bad arguments.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

BEGIN = "<!-- figures:begin -->"
END = "<!-- figures:end -->"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOINSIM = os.path.join(ROOT, "target", "release", "joinsim")


class Failed(Exception):
    """A measurement that did not run."""


def run(args, timeout_s=3600, ok_codes=(0,)):
    """Runs a command in the repository; returns its stdout, raises Failed on an exit code not
    in `ok_codes`."""
    try:
        done = subprocess.run(
            args, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Failed(f"{' '.join(args)}: {e}") from e
    if done.returncode not in ok_codes:
        raise Failed(f"{' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def grab(pattern, text, what):
    """The first group of `pattern` in `text` as a float."""
    m = re.search(pattern, text)
    if not m:
        raise Failed(f"no {what} in:\n{text}")
    return float(m.group(1))


def demo(runs, repeat):
    """`joinsim demo --runs N`: runs/s on one core, median run wall ms, peak MiB."""
    rates, medians, peaks = [], [], []
    for _ in range(repeat):
        out = run([JOINSIM, "demo", "--runs", str(runs)])
        rates.append(grab(r"([0-9.]+) runs/s on one core", out, "runs/s"))
        medians.append(grab(r"median ([0-9.]+) ms wall", out, "median"))
        peaks.append(grab(r"peak memory: ([0-9.]+) MiB", out, "peak memory"))
    return statistics.median(rates), statistics.median(medians), max(peaks)


def harness(runs, repeat):
    """The `harness` bench: runs/s of the synchronous network alone, of the synchronous network
    doing the madsim world's host work, and of the madsim world; the ratios to the latter."""
    sync, hosted, world = [], [], []
    for _ in range(repeat):
        out = run(["cargo", "bench", "-q", "-p", "joinsim-sim", "--bench", "harness", "--", str(runs)])
        sync.append(grab(r"synchronous harness\s+([0-9.]+) runs/s", out, "harness runs/s"))
        hosted.append(grab(r"synchronous \+ host work\s+([0-9.]+) runs/s", out, "host-work runs/s"))
        world.append(grab(r"madsim world\s+([0-9.]+) runs/s", out, "madsim runs/s"))
    s, h, w = statistics.median(sync), statistics.median(hosted), statistics.median(world)
    if w <= 0:
        raise Failed("the madsim world measured 0 runs/s")
    return s, h, w


def fuzz(runs, repeat):
    """`joinsim fuzz` with the default weather on 2 jobs: runs/s, simulated s per wall s, peak,
    and the seeds of its findings. A campaign that finds a failure (exit 1) still measures — its
    shrinking is part of its wall time — and the figure names the findings (findings/README.md
    keeps the open ones)."""
    rates, sims, peaks, found = [], [], [], set()
    with tempfile.TemporaryDirectory() as out_dir:
        for i in range(repeat):
            out = run(
                [JOINSIM, "fuzz", "--runs", str(runs), "--jobs", "2", "--seed-start", "0",
                 "--out", os.path.join(out_dir, str(i)), "--json"],
                ok_codes=(0, 1),
            )
            try:
                report = json.loads(out)
                found.update(f"{f['seed']} ({f['kind']})" for f in report.get("findings", []))
                rates.append(float(report["runs_per_s"]))
                sims.append(float(report["sim_s_per_wall_s"]))
                peaks.append(float(report["peak_memory_mib"] or 0.0))
            except (ValueError, KeyError, TypeError) as e:
                raise Failed(f"the fuzz report is not as docs/json.md says: {e}") from e
    return statistics.median(rates), statistics.median(sims), max(peaks), sorted(found)


def check(repeat):
    """`joinsim check`: wall seconds and peak MiB of the main job."""
    walls, peaks = [], []
    for _ in range(repeat):
        out = run([JOINSIM, "check"])
        walls.append(grab(r"wall time: ([0-9.]+) s", out, "wall time"))
        peaks.append(grab(r"peak memory: ([0-9.]+) MiB", out, "peak memory"))
    return statistics.median(walls), max(peaks)


def scale(sizes, budget_s):
    """The `scale` bench's table and growth exponents, verbatim."""
    args = ["cargo", "bench", "-q", "-p", "joinsim-sim", "--bench", "scale", "--"]
    args += [str(s) for s in sizes] + ["--budget-s", str(budget_s)]
    return run(args).rstrip()


def measure(opts):
    """Every figure, as the Markdown block the README holds."""
    commit = run(["git", "rev-parse", "--short", "HEAD"]).strip()
    quick = opts.quick
    run(["cargo", "build", "-q", "--release", "-p", "joinsim-sim"])
    d_rate, d_median, d_peak = demo(30 if quick else 300, opts.repeat)
    h_sync, h_hosted, h_world = harness(20 if quick else 200, opts.repeat)
    f_rate, f_sim, f_peak, f_found = fuzz(100 if quick else 2000, opts.repeat)
    c_wall, c_peak = check(1 if quick else opts.repeat)
    table = scale(opts.sizes, 1 if quick else 3)
    lines = [
        BEGIN,
        f"Measured by `scripts/figures.py` at {commit} on {os.cpu_count()} cores (release build;"
        f" medians of {opts.repeat}, peaks the largest; absolute figures move by ±20% on a shared"
        " machine, ratios less).",
        "",
        "| figure | value | goal (issue 13) |",
        "|---|---|---|",
        f"| demo (5 + 1 nodes), `joinsim demo --runs {30 if quick else 300}` | {d_rate:.0f} runs/s on one core,"
        f" median run {d_median:.2f} ms, peak {d_peak:.1f} MiB | 1,000 runs/s |",
        f"| madsim world against the synchronous driver doing the same host work (checkers, model,"
        f" trace hash), `--bench harness` | {h_world:.0f} against {h_hosted:.0f} runs/s:"
        f" {h_hosted / h_world:.2f}× | within 1.5× |",
        f"| madsim world against the bare synchronous driver (protocol and raft-rs only) |"
        f" {h_world:.0f} against {h_sync:.0f} runs/s: {h_sync / h_world:.2f}× | |",
        f"| fuzzing, default weather, 2 jobs, `joinsim fuzz --runs {100 if quick else 2000}` | {f_rate:.0f} runs/s,"
        f" {f_sim:.0f} simulated s per wall s, peak {f_peak:.1f} MiB"
        + (f"; findings (shrunk within the measured time, findings/README.md): {', '.join(f_found)}"
           if f_found else "")
        + " | 600 runs/s |",
        f"| main job, `joinsim check` | {c_wall:.1f} s, peak {c_peak:.1f} MiB | |",
        "",
        "Scaling (`cargo bench -p joinsim-sim --bench scale`; goals: 100 nodes under 1 s, 500 under"
        " 30 s, 1,000 supported, growth no faster than n log n):",
        "",
        "```text",
        table,
        "```",
        END,
    ]
    return "\n".join(lines)


def read_block_file(path):
    """The text of `path` when it holds one figures block; None (with a message) otherwise."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        print(f"error: --write {path}: {e}", file=sys.stderr)
        return None
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        print(f"error: {path} must hold one {BEGIN} ... {END} block", file=sys.stderr)
        return None
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", metavar="FILE")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sizes", default="1,5,20,50,100,200,500")
    opts = ap.parse_args()
    if not 1 <= opts.repeat <= 9:
        print("error: --repeat must lie in 1..=9", file=sys.stderr)
        return 2
    try:
        opts.sizes = sorted({int(s) for s in opts.sizes.split(",")})
    except ValueError:
        print(f"error: --sizes {opts.sizes!r} is not a comma list of node counts", file=sys.stderr)
        return 2
    if not all(1 <= s <= 1000 for s in opts.sizes):
        print("error: every size of --sizes must lie in 1..=1000", file=sys.stderr)
        return 2
    if opts.write:
        text = read_block_file(opts.write)
        if text is None:
            return 2
    try:
        block = measure(opts)
    except Failed as e:
        print(f"a measurement failed: {e}", file=sys.stderr)
        return 1
    if opts.write:
        # Read again: the file may have changed during the minutes of measuring.
        text = read_block_file(opts.write)
        if text is None:
            return 2
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        try:
            with open(opts.write, "w", encoding="utf-8") as f:
                f.write(before + block + after)
        except OSError as e:
            print(f"error: --write {opts.write}: {e}", file=sys.stderr)
            return 2
        print(f"wrote the figures into {opts.write}")
    else:
        print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
