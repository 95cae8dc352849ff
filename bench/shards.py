#!/usr/bin/env python3
"""How evenly `--partition` splits the skewed suite: the slowest shard's wall time
divided by the mean shard wall time, for duration:k/n and hash:k/n.

    bench/shards.py                          # n = 2, 3, 4; 3 rounds; duration and hash
    bench/shards.py --shards 2 --rounds 1    # a quick check that it works
    bench/shards.py --write-results          # also record the table in bench/RESULTS.md

A CI matrix runs its shards at the same time on machines of their own, so the
matrix takes as long as its slowest shard; a ratio of 1.0 means every shard ends
together. The shards are run here one after another on this machine, each with
every core (-j THREADS), which measures the same thing: how long each shard's
share of the suite takes when it has a machine to itself.

Method: the skewed suite (bench/gen.py) is built and run WARMUPS times with
tempo, which writes the duration history to a store of its own. In each round,
for each n and each partition kind (their order rotated from round to round),
every shard k = 1..n runs once, each with a fresh copy of that history, as a CI
shard gets the same history artifact: so every shard computes the same
assignment. A shard's wall time is time.perf_counter() around the whole
`cargo tempo run` (cargo's no-op build check and listing included, as a CI shard
pays them too). The report gives, per n and kind, the median over rounds of
max(shard walls) / mean(shard walls), its range, and the mean shard wall time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.dont_write_bytecode = True

import bench  # noqa: E402
import gen  # noqa: E402

WORK = BENCH_DIR / "work" / "_shards"


def shard_command(tempo_bin: Path, ws: Path, threads: int, partition: str | None) -> list[str]:
    cmd = [str(tempo_bin), "tempo", "run", "--workspace", "--no-fail-fast", "-j", str(threads),
           "--manifest-path", str(ws / "Cargo.toml")]
    if partition:
        cmd += ["--partition", partition]
    return cmd


def run_with_store(cmd: list[str], ws: Path, store: Path, log: Path, timeout: float) -> bench.Run:
    """One run with TEMPO_STORE_DIR=store; bench.timed_run copies this process's environment."""
    os.environ["TEMPO_STORE_DIR"] = str(store)
    return bench.timed_run(cmd, ws, log, timeout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shards", default="2,3,4", help="comma-separated shard counts (default: %(default)s)")
    ap.add_argument("--kinds", default="duration,hash", help="comma-separated partition kinds (default: %(default)s)")
    ap.add_argument("--rounds", type=int, default=3, help="measured rounds (default: %(default)s)")
    ap.add_argument("--warmups", type=int, default=2, help="unpartitioned runs that write the history (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=bench.default_threads(), help="-j for every run (default: %(default)s)")
    ap.add_argument("--tempo-bin", type=Path, default=bench.DEFAULT_TEMPO_BIN, help="default: %(default)s")
    ap.add_argument("--no-build-tempo", action="store_true", help="use --tempo-bin as it is")
    ap.add_argument("--timeout", type=float, default=900, help="seconds before one run is killed (default: %(default)s)")
    ap.add_argument("--write-results", action="store_true", help="append the table to bench/RESULTS.md")
    args = ap.parse_args(argv)
    args.tempo_bin = args.tempo_bin.resolve()  # runs start in the workload's directory
    shard_counts = [int(n) for n in args.shards.split(",")]
    kinds = args.kinds.split(",")
    if any(n < 1 for n in shard_counts) or args.rounds < 1 or args.warmups < 1:
        ap.error("shard counts, rounds and warm-ups must be at least 1")

    if not bench.ensure_tempo(args.tempo_bin, not args.no_build_tempo, False):
        return 1
    ws = gen.generate("skewed")
    shutil.rmtree(WORK, ignore_errors=True)
    history_store = WORK / "history"
    logs = WORK / "logs"
    for i in range(args.warmups):
        bench.log(f"warm-up {i + 1}/{args.warmups}: building and recording the history")
        r = run_with_store(shard_command(args.tempo_bin, ws, args.threads, None), ws, history_store,
                           logs / f"warmup-{i}.log", args.timeout)
        if r.rc not in (0, 100):
            bench.log(f"the warm-up run failed ({r.rc}); see {logs}")
            return 1
    history = history_store / "history.json"
    if not history.is_file():
        bench.log(f"no history was written to {history}")
        return 1

    # ratios[(n, kind)] = one max/mean per round; walls[(n, kind)] = every shard's wall.
    ratios: dict[tuple[int, str], list[float]] = {}
    walls: dict[tuple[int, str], list[float]] = {}
    for rnd in range(args.rounds):
        order = kinds[rnd % len(kinds):] + kinds[:rnd % len(kinds)]
        for n in shard_counts:
            for kind in order:
                shard_walls = []
                for k in range(1, n + 1):
                    store = WORK / "stores" / f"{rnd}-{n}-{kind}-{k}"
                    store.mkdir(parents=True, exist_ok=True)
                    shutil.copy(history, store / "history.json")
                    partition = f"{kind}:{k}/{n}"
                    r = run_with_store(shard_command(args.tempo_bin, ws, args.threads, partition), ws, store,
                                       logs / f"{rnd}-{n}-{kind}-{k}.log", args.timeout)
                    if r.rc not in (0, 100, 4):
                        bench.log(f"{partition} failed ({r.rc}); see {logs}")
                        return 1
                    shard_walls.append(r.seconds)
                mean = statistics.mean(shard_walls)
                ratio = max(shard_walls) / mean
                ratios.setdefault((n, kind), []).append(ratio)
                walls.setdefault((n, kind), []).extend(shard_walls)
                walls_text = " ".join(f"{w:.2f}" for w in shard_walls)
                bench.log(f"round {rnd + 1}: {kind}:k/{n} shard walls {walls_text} s, slowest/mean {ratio:.3f}")

    lines = [
        f"Skewed suite, {args.threads} threads per shard, {args.rounds} rounds, history from "
        f"{args.warmups} warm-up runs ({dt.date.today().isoformat()}, {bench.cpu_model()}).",
        "",
        "| shards | partition | slowest ÷ mean shard wall (median) | range over rounds | mean shard wall |",
        "|---:|---|---:|---|---:|",
    ]
    for n in shard_counts:
        for kind in kinds:
            r = ratios[(n, kind)]
            lines.append(f"| {n} | {kind}:k/{n} | {statistics.median(r):.3f} | {min(r):.3f}–{max(r):.3f} | "
                         f"{statistics.mean(walls[(n, kind)]):.2f} s |")
    table = "\n".join(lines)
    print(table)
    if args.write_results:
        with open(bench.RESULTS_MD, "a") as f:
            f.write(f"\n## Shards: `--partition duration:k/n` against `hash:k/n` (bench/shards.py)\n\n{table}\n")
        bench.log(f"appended to {bench.RESULTS_MD}")
    return 0


if __name__ == "__main__":
    start = time.perf_counter()
    code = main()
    bench.log(f"done in {time.perf_counter() - start:.0f} s")
    sys.exit(code)
