#!/usr/bin/env python3
"""The mutation score of one or more cargo-mutants output directories (docs/fuzzing.md,
"Mutation score").

Usage: .ci/mutation-score.py DIR [DIR...]   (each DIR a mutants.out/ with outcomes.json)

Prints the counts (caught, missed, timeout, unviable), the score
caught / (caught + missed + timeout) — a timeout counts as not caught; unviable mutants (that do
not build) change no behaviour and are left out — and every missed mutant, one a line, sorted.
Exit 0; exit 2 when a directory has no outcomes.json.
"""
import json
import os
import sys


def main(dirs):
    counts = {"CaughtMutant": 0, "MissedMutant": 0, "Timeout": 0, "Unviable": 0}
    missed = []
    for d in dirs:
        path = os.path.join(d, "outcomes.json")
        if not os.path.exists(path):
            print(f"{path}: no outcomes.json", file=sys.stderr)
            return 2
        with open(path) as f:
            data = json.load(f)
        for outcome in data.get("outcomes", []):
            scenario = outcome.get("scenario")
            if not isinstance(scenario, dict) or "Mutant" not in scenario:
                continue
            summary = outcome.get("summary")
            if summary in counts:
                counts[summary] += 1
            if summary in ("MissedMutant", "Timeout"):
                m = scenario["Mutant"]
                span = m.get("span", {}).get("start", {})
                missed.append(
                    f"{summary}: {m.get('file')}:{span.get('line')}: {m.get('function', {}).get('function_name', '')}: "
                    f"replace {m.get('replacement')} ({m.get('genre')})"
                )
    judged = counts["CaughtMutant"] + counts["MissedMutant"] + counts["Timeout"]
    score = 100.0 * counts["CaughtMutant"] / judged if judged else 0.0
    print(
        f"mutants: {judged + counts['Unviable']} ({counts['Unviable']} unviable); "
        f"caught {counts['CaughtMutant']}, missed {counts['MissedMutant']}, timeout {counts['Timeout']}; "
        f"score {counts['CaughtMutant']}/{judged} = {score:.0f}%"
    )
    for line in sorted(missed):
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
