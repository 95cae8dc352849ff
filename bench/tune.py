#!/usr/bin/env python3
"""Checks `cargo tempo tune`'s recommendation against real runs.

    bench/tune.py                                  # demo and iowait; tune, then 5 rounds of runs
    bench/tune.py --workloads iowait --rounds 7
    bench/tune.py --workloads demo --rounds 2 --repeat 1 --threads 1,2,4   # a quick look

For every workload, `cargo tempo tune --workspace` first sweeps its thread counts
(`--threads`, default: tune's own sweep, 1, 2, 4, ... up to 4x the cores) and
recommends one. Then the script measures what the recommendation is worth: after
one warm-up run at each count (not counted), in each of R rounds it runs
`cargo tempo run --workspace --no-fail-fast -j N` once at every count tune swept, in
an order rotated from round to round so that slow drift of the machine is spread
evenly over the counts. Each run's wall time is time.perf_counter() around the whole
command. The check passes when the median wall time at the recommended count is
within 10% (--limit) of the best median measured.

The report (Markdown) goes to stdout and progress to stderr; the exit code is 1 when
a workload fails the check. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.dont_write_bytecode = True  # no bench/__pycache__ in the work tree

import bench  # noqa: E402

DEFAULT_WORKLOADS = "demo,iowait"


def log(msg: str) -> None:
    print(f"[tune] {msg}", file=sys.stderr, flush=True)


def tune(tempo_bin: Path, ws: Path, args: argparse.Namespace, timeout: float) -> dict:
    """Runs `cargo tempo tune` on the workspace and returns its JSON report."""
    cmd = [str(tempo_bin), "tempo", "tune", "--workspace", "--manifest-path", str(ws / "Cargo.toml"),
           "--repeat", str(args.repeat)]
    if args.threads:
        cmd += ["--threads", args.threads]
    log("$ " + " ".join(cmd))
    # tune's progress goes to stderr, which is passed through so it can be followed.
    proc = subprocess.run(cmd, cwd=ws, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
                          env=bench.run_env(), timeout=timeout)
    if proc.returncode != 0:
        raise SystemExit(f"tune: `cargo tempo tune` exited {proc.returncode} on {ws}:\n{proc.stdout}")
    reports = next((line[len("reports: "):] for line in proc.stdout.splitlines() if line.startswith("reports: ")), None)
    if reports is None:
        raise SystemExit(f"tune: no `reports:` line in tune's output:\n{proc.stdout}")
    json_path = Path(reports.split(" and ")[1])
    report = json.loads(json_path.read_text())
    report["_stdout"] = proc.stdout
    return report


def timed_run(tempo_bin: Path, ws: Path, threads: int, log_path: Path, timeout: float) -> bench.Run:
    return bench.timed_run(bench.tool_command("tempo", ws, str(threads), tempo_bin), ws, log_path, timeout)


def measure(tempo_bin: Path, ws: Path, counts: list[int], rounds: int, name: str,
            timeout: float) -> dict[int, list[float]]:
    """Wall times of `cargo tempo run -j N` for every count, interleaved over the rounds."""
    logs = bench.LOG_DIR
    for n in counts:
        run = timed_run(tempo_bin, ws, n, logs / f"tune.{name}.j{n}.warmup.log", timeout)
        log(f"  warm-up -j {n:<3} {run.seconds:7.2f} s  exit {run.rc}")
    times: dict[int, list[float]] = {n: [] for n in counts}
    for r in range(rounds):
        order = counts[r % len(counts):] + counts[:r % len(counts)]
        for n in order:
            run = timed_run(tempo_bin, ws, n, logs / f"tune.{name}.j{n}.log", timeout)
            if run.rc != 0:
                raise SystemExit(f"tune: `cargo tempo run -j {n}` exited {run.rc}; see {logs}")
            times[n].append(run.seconds)
            log(f"  round {r + 1}/{rounds} -j {n:<3} {run.seconds:7.2f} s")
    return times


def section(name: str, ws: Path, report: dict, times: dict[int, list[float]], limit: float) -> tuple[str, bool]:
    """The Markdown section for one workload, and whether it passed."""
    rec = report["recommendation"]["threads"]
    medians = {n: statistics.median(t) for n, t in times.items()}
    best = min(medians, key=lambda n: (medians[n], n))
    above = medians[rec] / medians[best] - 1
    passed = above <= limit
    tune_rows = {row["threads"]: row for row in report["rows"] if row.get("threads") is not None}
    try:
        where = ws.relative_to(bench.REPO)
    except ValueError:
        where = ws
    out = [f"### {name} (`{where}`)", ""]
    runs = "1 run" if report["repeat"] == 1 else f"{report['repeat']} runs"
    out.append(f"{report['tests']} tests; `cargo tempo tune` ({runs} per count, "
               f"tolerance {100 * report['tolerance']:.0f}%) recommended **{rec}** threads.")
    out.append("")
    out.append("| threads | tune median s | tune CPU util | run median s | run min s | run max s | vs best run |")
    out.append("|---:|---:|---:|---:|---:|---:|---:|")
    for n in sorted(times):
        row = tune_rows.get(n, {})
        marks = [word for word, on in (("recommended", n == rec), ("best", n == best)) if on]
        mark = f" ({', '.join(marks)})" if marks else ""
        out.append(
            f"| {n}{mark} | {row.get('median_wall_s', float('nan')):.2f} | "
            f"{100 * row.get('cpu_utilization', float('nan')):.0f}% | {medians[n]:.2f} | "
            f"{min(times[n]):.2f} | {max(times[n]):.2f} | {100 * (medians[n] / medians[best] - 1):+.1f}% |"
        )
    out.append("")
    verdict = "PASS" if passed else "FAIL"
    out.append(f"**{verdict}**: at the recommended {rec} threads the median run took {medians[rec]:.2f} s, "
               f"{100 * above:.1f}% above the best median, {medians[best]:.2f} s at {best} threads "
               f"(limit {100 * limit:.0f}%).")
    out.append("")
    return "\n".join(out), passed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workloads", default=DEFAULT_WORKLOADS,
                    help="comma-separated: demo, trivial, skewed, iowait, real:NAME[@VERSION] (default: %(default)s)")
    ap.add_argument("--rounds", type=int, default=5, help="measured rounds of runs (default: %(default)s)")
    ap.add_argument("--repeat", type=int, default=3, help="tune's --repeat (default: %(default)s)")
    ap.add_argument("--threads", help="tune's --threads, such as 1,2,4,8 (default: tune's own sweep)")
    ap.add_argument("--limit", type=float, default=0.10,
                    help="how far above the best median the recommendation may be (default: %(default)s)")
    ap.add_argument("--tempo-bin", type=Path, default=bench.DEFAULT_TEMPO_BIN, help="default: %(default)s")
    ap.add_argument("--no-build-tempo", action="store_true",
                    help="don't run `cargo build --release` when the tempo binary is missing")
    ap.add_argument("--rebuild-tempo", action="store_true", help="run `cargo build --release` even if it exists")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds before one command is killed")
    args = ap.parse_args(argv)
    if args.rounds < 1 or args.repeat < 1:
        ap.error("--rounds and --repeat must be at least 1")

    tempo_bin = args.tempo_bin.resolve()
    if not bench.ensure_tempo(tempo_bin, not args.no_build_tempo, args.rebuild_tempo):
        return 2
    info = bench.describe_environment(["tempo"], tempo_bin)
    out = [
        "## Does `cargo tempo tune` pick a good thread count?",
        "",
        f"- date: {info['date']}",
        f"- machine: {info['machine']}, {info['cores']} cores ({info['cpu']}), {info['memory']} RAM; "
        f"load average at start {info['load']}",
        f"- versions: {info['cargo']}; {info['rustc']}; tempo {info['tempo']}",
        f"- `cargo tempo tune --workspace --repeat {args.repeat}"
        + (f" --threads {args.threads}`" if args.threads else "`")
        + f", then {args.rounds} rounds of `cargo tempo run --workspace --no-fail-fast -j N` at every swept N, "
        "after one warm-up run each; the rounds rotate the order of the counts",
        "",
    ]
    all_passed = True
    started = time.perf_counter()
    for name in bench.expand_workloads(args.workloads):
        ws = bench.resolve_workload(name)
        log(f"{name}: building and tuning in {ws}")
        # Builds the workload (tune builds before it sweeps) and records the recommendation.
        report = tune(tempo_bin, ws, args, args.timeout)
        log("\n" + report["_stdout"])
        counts = sorted(row["threads"] for row in report["rows"] if row.get("threads") is not None)
        safe = name.replace(":", "_").replace("@", "-")
        times = measure(tempo_bin, ws, counts, args.rounds, safe, args.timeout)
        text, passed = section(name, ws, report, times, args.limit)
        all_passed &= passed
        log("\n" + text)
        out.append(text)
    out.append(f"_{time.perf_counter() - started:.0f} s in all._")
    print("\n".join(out))
    return 0 if all_passed else 1


if __name__ == "__main__":
    sys.exit(main())
