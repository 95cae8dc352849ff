#!/usr/bin/env python3
"""Side-by-side wall-clock benchmark of `cargo tempo`, `cargo nextest` and `cargo test`.

    bench/bench.py                                   # demo, trivial, skewed; 5 rounds; all tools
    bench/bench.py --workloads all --write-results   # also the real crates; record in RESULTS.md
    bench/bench.py --tools nextest,cargo-test --rounds 1
    bench/bench.py --workloads real:itertools,real:bytes@1.12.2
    bench/bench.py --threads default                 # every tool at its own default thread count
    bench/bench.py --workloads mixed --tools tempo,tempo@2,tempo@8,nextest

A tool may carry its own thread count: `tempo@8`, `nextest@default`,
`tempo@adaptive`; `default` passes no thread option at all (tempo's default is
adaptive concurrency, nextest's and cargo test's the core count).

For every workload the build is warmed first by running every tool once (not
counted). Then, in each of R rounds, every tool runs once, in an order that
is rotated from round to round, so slow drift of the machine (other load,
thermal state, page cache) is spread evenly over the tools. Each run's wall
time is time.perf_counter() around the whole command, which includes cargo's
no-op build check (the same for every tool, since they share the workload's
target directory). The report gives the median, min and max per tool and the
ratio of each median to nextest's and to cargo test's.

Full output of the last run of each tool is kept in bench/work/_logs/.
See bench/README.md for the methodology.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.dont_write_bytecode = True  # no bench/__pycache__ in the work tree

import fetch_real  # noqa: E402
import gen  # noqa: E402

ALL_TOOLS = ["tempo", "nextest", "cargo-test", "tempo-base"]
TOOL_LABEL = {"tempo": "cargo tempo", "nextest": "cargo nextest", "cargo-test": "cargo test",
              "tempo-base": "cargo tempo (base)"}
# `tempo-base` is another build of tempo (`--base-bin`), run with the same arguments as
# `tempo`, so that a change can be measured against the revision before it, interleaved
# in the same rounds. It keeps its history apart (see `run_env`), since two revisions
# may store it differently.
BASE_BIN: Path | None = None
SYNTHETIC = ["demo", "trivial", "skewed"]
DEFAULT_TEMPO_BIN = REPO / "target" / "release" / "cargo-tempo"
LOG_DIR = BENCH_DIR / "work" / "_logs"
RESULTS_MD = BENCH_DIR / "RESULTS.md"


def default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# --------------------------------------------------------------------------
# workloads and tools


def resolve_workload(name: str) -> Path:
    """Directory (workspace root) of a workload, generating or fetching it if needed."""
    if name == "demo":
        return REPO / "examples" / "demo"
    if name in gen.GENERATORS:
        return gen.generate(name)
    if name.startswith("real:"):
        spec = name[len("real:"):]
        crate, _, version = spec.partition("@")
        if not version:
            existing = fetch_real.find_existing(crate)
            if existing is not None:
                return existing
        log(f"fetching {spec} from crates.io (via cargo fetch) ...")
        return fetch_real.fetch(spec, quiet=True)
    raise SystemExit(f"bench: unknown workload {name!r} (demo, trivial, skewed, real:NAME[@VERSION], all)")


def expand_workloads(arg: str) -> list[str]:
    out: list[str] = []
    for w in (x.strip() for x in arg.split(",")):
        if not w:
            continue
        if w == "all":
            out += SYNTHETIC + [f"real:{n}" for n in fetch_real.REAL_CRATES]
        elif w == "real":
            out += [f"real:{n}" for n in fetch_real.REAL_CRATES]
        else:
            out.append(w)
    return list(dict.fromkeys(out))


def split_spec(spec: str, threads: str) -> tuple[str, str]:
    """`tempo@8` -> ("tempo", "8"); a bare tool takes the run's --threads."""
    name, _, t = spec.partition("@")
    return name, (t or threads)


def label(spec: str) -> str:
    name, _, t = spec.partition("@")
    return TOOL_LABEL[name] + (f" ({t})" if t else "")


def tool_command(spec: str, ws: Path, threads: str, tempo_bin: Path, doc: bool = False) -> list[str]:
    """The command line for one tool. Every tool runs in the workspace's directory,
    tests the whole workspace, keeps going after failures, and uses THREADS threads
    (`default`: no thread option, the tool's own default). With `doc`, tempo and
    cargo test run the doctests too (nextest cannot)."""
    tool, threads = split_spec(spec, threads)
    default = threads == "default"
    if tool in ("tempo", "tempo-base"):
        j = [] if default else ["-j", threads]
        binary = tempo_bin if tool == "tempo" else BASE_BIN
        return [str(binary), "tempo", "run", "--workspace", "--no-fail-fast", *j, *(["--doc"] if doc else []),
                "--manifest-path", str(ws / "Cargo.toml")]
    if tool == "nextest":
        j = [] if default else ["--test-threads", threads]
        return ["cargo", "nextest", "run", "--workspace", "--no-fail-fast", *j]
    if tool == "cargo-test":
        # --tests: lib, bin and integration-test targets -- the tests the other
        # runners run; it leaves out doctests, which nextest cannot run.
        j = [] if default else ["--", "--test-threads", threads]
        targets = [] if doc else ["--tests"]
        return ["cargo", "test", "-q", "--workspace", "--no-fail-fast", *targets, *j]
    raise ValueError(tool)


def clean_target(ws: Path, clean: bool) -> None:
    """With --clean, every run starts from an empty target directory, so the time
    includes the whole build (dependencies too): the end-to-end measurement."""
    if clean:
        shutil.rmtree(ws / "target", ignore_errors=True)


STORE_DIR = BENCH_DIR / "work" / "_store"


def run_env(workload: str = "", keep_history: bool = False, tool: str = "") -> dict[str, str]:
    env = dict(os.environ)
    env["CARGO_TERM_COLOR"] = "never"
    env["NO_COLOR"] = "1"
    env.pop("CARGO_TARGET_DIR", None)  # every tool uses the workload's own target/
    if keep_history:
        # With --clean the target directory (tempo's default store) goes before every
        # run; CI keeps the history the same way, as an artifact (docs/ci.md).
        env["TEMPO_STORE_DIR"] = str(STORE_DIR / workload.replace(":", "_").replace("@", "-"))
    if tool.startswith("tempo-base"):
        base = STORE_DIR / "_base" / workload.replace(":", "_").replace("@", "-")
        env["TEMPO_STORE_DIR"] = str(base)
    return env


@dataclass
class Run:
    seconds: float
    rc: int | str
    passed: int | None
    failed: int | None
    rebuilt: bool
    efficiency: float | None = None


def timed_run(cmd: list[str], cwd: Path, log_path: Path, timeout: float, env: dict[str, str] | None = None) -> Run:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as out:
        out.write(("$ " + " ".join(cmd) + f"\n# cwd: {cwd}\n").encode())
        out.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=env or run_env(), start_new_session=True)
        try:
            rc: int | str = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc = "timeout"
        seconds = time.perf_counter() - start
    text = log_path.read_text(errors="replace")
    passed, failed = parse_counts(text)
    rebuilt = re.search(r"(?m)^\s*Compiling ", text) is not None
    eff = re.search(r"efficiency (\d+)%", text)
    return Run(seconds, rc, passed, failed, rebuilt, int(eff.group(1)) / 100 if eff else None)


def parse_counts(text: str) -> tuple[int | None, int | None]:
    """(passed, failed) from a runner's output: cargo test's per-binary
    `test result:` lines summed, else the last line that says `N passed`
    (nextest's `Summary`, tempo's closing line, or a plain `N passed, N failed`)."""
    results = re.findall(r"test result: \w+\. (\d+) passed; (\d+) failed", text)
    if results:
        return sum(int(p) for p, _ in results), sum(int(f) for _, f in results)
    for line in reversed(text.splitlines()):
        m = re.search(r"(\d+) passed", line)
        if m:
            f = re.search(r"(\d+) failed", line)
            return int(m.group(1)), int(f.group(1)) if f else 0
    return None, None


# --------------------------------------------------------------------------
# environment description


def sh(cmd: list[str], cwd: Path | None = None) -> str:
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mem_total() -> str:
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def tempo_rev() -> str:
    rev = sh(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO)
    if not rev:
        return "(no commit yet)"
    dirty = sh(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO)
    return rev + ("-dirty" if dirty else "")


def describe_environment(tools: list[str], tempo_bin: Path) -> dict[str, str]:
    info = {
        "date": sh(["date", "-u"]) or dt.datetime.now(dt.timezone.utc).isoformat(),
        "machine": sh(["uname", "-srm"]),
        "cores": sh(["nproc"]) or str(os.cpu_count()),
        "cpu": cpu_model(),
        "memory": mem_total(),
        "load": open("/proc/loadavg").read().split()[0] if Path("/proc/loadavg").exists() else "?",
        "cargo": sh(["cargo", "--version"]),
        "rustc": sh(["rustc", "--version"]),
        "tempo": tempo_rev(),
    }
    if any(t.startswith("nextest") for t in tools):
        info["nextest"] = (sh(["cargo", "nextest", "--version"]).splitlines() or ["?"])[0]
    if any(t.startswith("tempo") for t in tools):
        info["tempo-bin"] = str(tempo_bin)
    if any(t.startswith("tempo-base") for t in tools) and BASE_BIN is not None:
        info["tempo-base-bin"] = str(BASE_BIN)
    return info


# --------------------------------------------------------------------------
# reporting


@dataclass
class Result:
    workload: str
    path: Path
    runs: dict[str, list[Run]] = field(default_factory=dict)
    warm: dict[str, Run] = field(default_factory=dict)


def fmt_ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}x"


def table(res: Result, tools: list[str], clean: bool = False) -> str:
    med = {t: statistics.median(r.seconds for r in res.runs[t]) for t in tools if res.runs.get(t)}
    # The ratios are against the first nextest and the first cargo test in the list.
    base = {name: next((med[t] for t in tools if t.partition("@")[0] == name and t in med), None)
            for name in ("nextest", "cargo-test")}
    lines = [
        "| tool | median s | min s | max s | vs nextest | vs cargo test | tempo's efficiency | "
        "tests passed / failed | exit codes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for t in tools:
        runs = res.runs.get(t)
        if not runs:
            continue
        secs = [r.seconds for r in runs]
        counts = sorted({(r.passed, r.failed) for r in runs}, key=str)
        count_s = ", ".join("?" if p is None else f"{p} / {f}" for p, f in counts)
        codes = sorted({str(r.rc) for r in runs})
        notes = ", ".join(codes)
        if any(r.rebuilt for r in runs) and not clean:
            notes += " (rebuilt during a measured run!)"
        effs = [r.efficiency for r in runs if r.efficiency is not None]
        eff_s = f"{statistics.median(effs):.2f}" if effs and t.startswith("tempo") else "—"
        lines.append(
            f"| {label(t)} | {med[t]:.2f} | {min(secs):.2f} | {max(secs):.2f} | "
            f"{fmt_ratio(med[t], base['nextest'])} | {fmt_ratio(med[t], base['cargo-test'])} | "
            f"{eff_s} | {count_s} | {notes} |"
        )
    return "\n".join(lines)


def workload_title(res: Result) -> str:
    try:
        where = res.path.relative_to(REPO)
    except ValueError:
        where = res.path
    return f"### {res.workload} (`{where}`)"


def report(results: list[Result], tools: list[str], info: dict[str, str], args: argparse.Namespace,
           tempo_bin: Path) -> str:
    out = []
    out.append(f"- date: {info['date']}")
    out.append(f"- machine: {info['machine']}, {info['cores']} cores ({info['cpu']}), {info['memory']} RAM; "
               f"load average at start {info['load']}")
    versions = [info["cargo"], info["rustc"]]
    if "nextest" in info:
        versions.append(info["nextest"])
    if any(t.startswith("tempo") for t in tools):
        versions.append(f"tempo {info['tempo']}")
    out.append("- versions: " + "; ".join(versions))
    out.append(f"- rounds: {args.rounds} (after one warm-up run per tool); threads: {args.threads}")
    if args.clean:
        out.append("- **end to end**: every run starts from an empty target directory, so the times include the "
                   "whole build; tempo's duration history is kept outside it (`TEMPO_STORE_DIR`), as CI keeps it "
                   "as an artifact")
    if args.doc:
        out.append("- **doctests included**: tempo with `--doc`, `cargo test` with all its targets (doctests too); "
                   "nextest cannot run doctests")
    out.append("- commands (run in the workload's directory):")
    for t in tools:
        cmd = tool_command(t, Path("W"), args.threads, Path("cargo-tempo" if t.startswith("tempo") else ""), args.doc)
        out.append(f"  - {label(t)}: `{' '.join(cmd)}`")
    out.append("")
    for res in results:
        out.append(workload_title(res))
        out.append("")
        out.append(table(res, tools, args.clean))
        out.append("")
    return "\n".join(out)


def write_results(body: str, info: dict[str, str], args: argparse.Namespace, tools: list[str],
                  workloads: list[str], path: Path) -> None:
    """Appends a section to RESULTS.md, replacing an earlier one for the same
    day, tempo revision, workloads, tools, rounds and threads."""
    day = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    key = f"{day} tempo={info['tempo']} workloads={','.join(workloads)} tools={','.join(tools)} " \
          f"rounds={args.rounds} threads={args.threads}" + (" clean" if args.clean else "") + (" doc" if args.doc else "")
    section = f"## {info['date']}\n<!-- bench-key: {key} -->\n\n{body.rstrip()}\n"
    if path.exists():
        text = path.read_text()
    else:
        text = ("# Benchmark results\n\nWritten by `bench/bench.py --write-results`; see `bench/README.md` "
                "for what is measured and how.\n")
    parts = re.split(r"(?m)^(?=## )", text)
    head, sections = parts[0], parts[1:]
    marker = f"<!-- bench-key: {key} -->"
    for i, s in enumerate(sections):
        if marker in s:
            sections[i] = section + "\n"
            break
    else:
        sections.append(section + "\n")
    path.write_text(head.rstrip() + "\n\n" + "".join(sections).rstrip() + "\n")


# --------------------------------------------------------------------------
# main


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def ensure_tempo(tempo_bin: Path, build: bool, rebuild: bool) -> bool:
    if build and (rebuild or not tempo_bin.exists()):
        log(f"building tempo: cargo build --release (in {REPO})")
        r = subprocess.run(["cargo", "build", "--release"], cwd=REPO, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            log("tempo failed to build; leaving it out")
            return False
    if not tempo_bin.exists():
        log(f"{tempo_bin} does not exist; leaving tempo out (build it, or pass --tempo-bin)")
        return False
    return True


def tool_available(tool: str) -> bool:
    if tool == "nextest":
        ok = subprocess.run(["cargo", "nextest", "--version"], capture_output=True).returncode == 0
        if not ok:
            log("cargo-nextest is not installed; leaving it out (cargo install cargo-nextest)")
        return ok
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workloads", default=",".join(SYNTHETIC),
                    help="comma-separated: demo, trivial, skewed, real:NAME[@VERSION], "
                         "`real` (the pinned real crates) or `all` (default: %(default)s)")
    ap.add_argument("--tools", default=",".join(ALL_TOOLS), help="comma-separated subset of %(default)s")
    ap.add_argument("--rounds", type=int, default=5, help="measured rounds per workload (default: %(default)s)")
    ap.add_argument("--threads", default=str(default_threads()),
                    help="test threads for every tool without its own @THREADS: a number, or `default` "
                         "for each tool's own default (default: the core count, %(default)s)")
    ap.add_argument("--tempo-bin", type=Path, default=DEFAULT_TEMPO_BIN, help="default: %(default)s")
    ap.add_argument("--base-bin", type=Path,
                    help="another cargo-tempo binary (an earlier revision) for the `tempo-base` tool")
    ap.add_argument("--no-build-tempo", action="store_true",
                    help="don't run `cargo build --release` for tempo when its binary is missing")
    ap.add_argument("--rebuild-tempo", action="store_true",
                    help="run `cargo build --release` for tempo even if the binary exists")
    ap.add_argument("--doc", action="store_true",
                    help="run the doctests too: tempo with --doc, cargo test without --tests; nextest, which "
                         "cannot run doctests, is left out")
    ap.add_argument("--clean", action="store_true",
                    help="remove the workload's target directory before every run: measure build plus tests")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds before one run is killed (default: %(default)s)")
    ap.add_argument("--write-results", action="store_true", help=f"record the report in {RESULTS_MD.relative_to(REPO)}")
    ap.add_argument("--results-file", type=Path, default=RESULTS_MD,
                    help="where --write-results writes (default: bench/RESULTS.md)")
    args = ap.parse_args(argv)

    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    bad = [t for t in tools if t.partition("@")[0] not in ALL_TOOLS]
    if bad or not tools:
        ap.error(f"unknown tool(s) {bad}; choose from {', '.join(ALL_TOOLS)}, each with an optional @THREADS")
    if args.rounds < 1 or not (args.threads == "default" or args.threads.isdigit() and int(args.threads) >= 1):
        ap.error("--rounds must be at least 1, and --threads a positive number or `default`")
    tempo_bin = args.tempo_bin.resolve()
    global BASE_BIN
    if any(t.startswith("tempo-base") for t in tools):
        if args.base_bin is None or not args.base_bin.exists():
            ap.error("the tempo-base tool needs --base-bin PATH, an existing cargo-tempo binary")
        BASE_BIN = args.base_bin.resolve()
    if any(t.partition("@")[0] == "tempo" for t in tools) and not ensure_tempo(tempo_bin, not args.no_build_tempo,
                                                                     args.rebuild_tempo):
        tools = [t for t in tools if t.partition("@")[0] != "tempo"]
    tools = [t for t in tools if tool_available(t.partition("@")[0])]
    if args.doc and any(t.startswith("nextest") for t in tools):
        log("--doc: leaving out nextest, which cannot run doctests")
        tools = [t for t in tools if not t.startswith("nextest")]
    if not tools:
        log("no tool left to run")
        return 2
    workloads = expand_workloads(args.workloads)
    info = describe_environment(tools, tempo_bin)

    results: list[Result] = []
    for w in workloads:
        ws = resolve_workload(w)
        res = Result(w, ws)
        safe = w.replace(":", "_").replace("@", "-")
        log(f"{w}: warming the build in {ws}")
        for t in tools:
            clean_target(ws, args.clean)
            run = timed_run(tool_command(t, ws, args.threads, tempo_bin, args.doc), ws,
                            LOG_DIR / f"{safe}.{t}.warmup.log", args.timeout, run_env(w, args.clean, t))
            res.warm[t] = run
            log(f"  warm-up {t:<14} {run.seconds:7.2f} s  exit {run.rc}")
        for r in range(args.rounds):
            order = tools[r % len(tools):] + tools[:r % len(tools)]
            for t in order:
                clean_target(ws, args.clean)
                run = timed_run(tool_command(t, ws, args.threads, tempo_bin, args.doc), ws,
                                LOG_DIR / f"{safe}.{t}.log", args.timeout, run_env(w, args.clean, t))
                res.runs.setdefault(t, []).append(run)
                counts = "" if run.passed is None else f"  {run.passed} passed, {run.failed} failed"
                log(f"  round {r + 1}/{args.rounds} {t:<14} {run.seconds:7.2f} s  exit {run.rc}{counts}"
                    + ("  (rebuilt!)" if run.rebuilt and not args.clean else ""))
        results.append(res)
        log("\n" + workload_title(res) + "\n\n" + table(res, tools, args.clean) + "\n")

    body = report(results, tools, info, args, tempo_bin)
    print(body)
    if args.write_results:
        write_results(body, info, args, tools, workloads, args.results_file)
        log(f"wrote {args.results_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
