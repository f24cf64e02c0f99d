#!/usr/bin/env python3
"""Simulator speed of two or more `outdial` binaries on the same scenario, interleaved.

Usage: benches/sim_compare.py OLD_BIN,NEW_BIN [ROUNDS] [STRATEGY,...] [SCENARIO]

For each round, for each strategy, runs each binary once
(`BIN sim SCENARIO --strategy S --json`) and keeps its `wall_s`. Interleaving keeps a change in
the machine's load from landing on one binary only. Prints, per strategy and binary, the event
count and the best, median and worst events/s. Defaults: 11 rounds, the four strategies of
large-centre, sim/large-centre.yaml. BENCHMARKS.md, "Simulator speed and memory".
"""
import json
import statistics
import subprocess
import sys
from pathlib import Path

bins = sys.argv[1].split(",")
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 11
strategies = (sys.argv[3] if len(sys.argv) > 3 else "progressive,power:2,adaptive,predictive").split(",")
scenario = sys.argv[4] if len(sys.argv) > 4 else str(Path(__file__).parent.parent / "sim/large-centre.yaml")

runs = {}
for _ in range(rounds):
    for s in strategies:
        for b in bins:
            out = subprocess.run([b, "sim", scenario, "--strategy", s, "--json"],
                                 capture_output=True, text=True, check=True).stdout
            r = json.loads(out)["results"][0]
            runs.setdefault((s, b), []).append((r["wall_s"], r["events"]))

for s in strategies:
    for b in bins:
        v = runs[(s, b)]
        events = v[0][1]
        walls = sorted(w for w, _ in v)
        med = statistics.median(walls)
        print(f"{s:12} {b:28} events {events:>9}  wall median {med:.3f} s  M events/s "
              f"best {events / walls[0] / 1e6:.2f} median {events / med / 1e6:.2f} "
              f"worst {events / walls[-1] / 1e6:.2f}")
