#!/usr/bin/env python3
"""How the build and the tests share the cores when tempo pipelines them.

    bench/share.py bench/work/skewed 4     # workspace, rounds

End to end (an empty target directory before every run) on a workspace: tempo
with TEMPO_TEST_CPU_WHILE_BUILDING=1.0 (no partition: the tests keep their whole
CPU budget while cargo compiles) against 0.5 (half the cores), interleaved with
the order alternating, after one warm-up run. tempo's history is kept outside the
target directory (bench/work/_store/share-NAME), as CI keeps it. Prints one
Markdown row per setting: median, min and max seconds. Needs
target/release/cargo-tempo.
"""
import os, shutil, statistics, subprocess, sys, time
from pathlib import Path
ws = Path(sys.argv[1]); rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 4
tempo = str(Path(__file__).resolve().parent.parent / "target" / "release" / "cargo-tempo")
store = Path(__file__).resolve().parent / "work" / "_store" / ("share-" + ws.name)
res = {"1.0": [], "0.5": []}
def run(share):
    shutil.rmtree(ws / "target", ignore_errors=True)
    env = dict(os.environ, TEMPO_TEST_CPU_WHILE_BUILDING=share, TEMPO_STORE_DIR=str(store), NO_COLOR="1")
    env.pop("CARGO_TARGET_DIR", None)
    t = time.perf_counter()
    subprocess.run([tempo, "tempo", "run", "--workspace", "--no-fail-fast", "--manifest-path", str(ws / "Cargo.toml")],
                   cwd=ws, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t
run("1.0")  # warm-up: history and the registry cache
for r in range(rounds):
    for share in (["1.0", "0.5"] if r % 2 == 0 else ["0.5", "1.0"]):
        res[share].append(run(share))
        print(f"round {r+1} share {share}: {res[share][-1]:.2f} s", file=sys.stderr)
for share, xs in res.items():
    print(f"| {ws.name} | {share} | {statistics.median(xs):.2f} | {min(xs):.2f} | {max(xs):.2f} |")
