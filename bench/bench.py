#!/usr/bin/env python3
"""Side-by-side wall-clock benchmark of `cargo tempo`, `cargo nextest` and `cargo test`.

    bench/bench.py                                   # demo, trivial, skewed; 5 rounds; all tools
    bench/bench.py --workloads all --write-results   # also the real crates; record in RESULTS.md
    bench/bench.py --tools nextest,cargo-test --rounds 1
    bench/bench.py --workloads real:itertools,real:bytes@1.12.2
    bench/bench.py --threads default                 # every tool at its own default thread count
    bench/bench.py --workloads mixed --tools tempo,tempo@2,tempo@8,nextest
    bench/bench.py --verdict                         # issue 14: real suites, -j sweep, doctests, verdict

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

With --verdict (issue 14) every tool runs at its default, tempo also at -j 1x,
2x, 4x and 8x the cores, the doctest-heavy suites also run the doctest tools
(--doc-compare), and the report ends with a verdict table: each ratio issue 14
sets a target for, marked against it.

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

ALL_TOOLS = ["tempo", "nextest", "cargo-test", "tempo-base", "tempo-doc", "tempo-doconly", "cargo-test-all",
             "cargo-test-doc"]
TOOL_LABEL = {"tempo": "cargo tempo", "nextest": "cargo nextest", "cargo-test": "cargo test",
              "tempo-base": "cargo tempo (base)", "tempo-doc": "cargo tempo --doc",
              "tempo-doconly": "cargo tempo --doc, doctests only", "cargo-test-all": "cargo test, all targets",
              "cargo-test-doc": "cargo test --doc"}
# The doctest comparisons of issue 14, run on a doctest-heavy suite with --doc-compare
# (or --verdict): tempo restricted to doctests against `cargo test --doc`, and tempo
# with doctests against a plain `cargo test` (all its targets, doctests included).
DOC_TOOLS = ["tempo-doconly", "cargo-test-doc", "tempo-doc", "cargo-test-all"]
# The targets of the verdict (bench/README.md#verdict): tempo's default run against
# the faster of cargo test and nextest, and against the best tempo -j N; the doctest
# ratios against cargo test --doc and a plain cargo test.
TARGET_VS_OTHERS = 1.0
TARGET_VS_BEST_J = 1.15
TARGET_DOC_ONLY = 0.85
TARGET_DOC_ALL = 0.9
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
            out += SYNTHETIC + [f"real:{n}" for n in fetch_real.REAL_SUITES]
        elif w == "real":
            out += [f"real:{n}" for n in fetch_real.REAL_SUITES]
        else:
            out.append(w)
    return list(dict.fromkeys(out))


def is_doc_suite(workload: str) -> bool:
    """A doctest-heavy real suite of the pinned set: --doc-compare runs the doctest tools on it."""
    if not workload.startswith("real:"):
        return False
    suite = fetch_real.REAL_SUITES.get(workload[len("real:"):].partition("@")[0])
    return suite is not None and suite.doc


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
    if tool in ("tempo", "tempo-base", "tempo-doc", "tempo-doconly"):
        j = [] if default else ["-j", threads]
        binary = BASE_BIN if tool == "tempo-base" else tempo_bin
        docs = ["--doc"] if doc or tool in ("tempo-doc", "tempo-doconly") else []
        if tool == "tempo-doconly":
            docs += ["-E", "kind(doctest)"]
        return [str(binary), "tempo", "run", "--workspace", "--no-fail-fast", *j, *docs,
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
    if tool in ("cargo-test-all", "cargo-test-doc"):
        # A plain `cargo test` (lib, bins, integration tests, then doctests), and
        # `cargo test --doc` (doctests only): what tempo --doc is compared with.
        j = [] if default else ["--", "--test-threads", threads]
        targets = ["--doc"] if tool == "cargo-test-doc" else []
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


def verdict_rows(res: Result, threads: str) -> list[tuple[str, str, float | None, float]]:
    """(what, how, ratio, target) for each target of issue 14 this workload's runs can
    judge; a ratio of None means a run it needs is missing (left out or failed to run)."""
    med = {t: statistics.median(r.seconds for r in runs) for t, runs in res.runs.items() if runs}
    eff = {t: split_spec(t, threads) for t in med}
    default = next((t for t, (n, j) in eff.items() if n == "tempo" and j in ("default", "adaptive")), None)
    rows: list[tuple[str, str, float | None, float]] = []
    others = [t for t, (n, _) in eff.items() if n in ("nextest", "cargo-test")]
    sweep = [t for t, (n, j) in eff.items() if n == "tempo" and j.isdigit()]
    if default and others:
        best = min(others, key=lambda t: med[t])
        rows.append(("tempo / min(cargo test, nextest)", f"{med[default]:.2f} / {med[best]:.2f} ({label(best)})",
                     med[default] / med[best], TARGET_VS_OTHERS))
    if default and sweep:
        best = min(sweep, key=lambda t: med[t])
        rows.append(("tempo / best tempo -j N", f"{med[default]:.2f} / {med[best]:.2f} ({label(best)})",
                     med[default] / med[best], TARGET_VS_BEST_J))
    for a, b, what, target in (("tempo-doconly", "cargo-test-doc", "tempo --doc doctests only / cargo test --doc",
                                TARGET_DOC_ONLY),
                               ("tempo-doc", "cargo-test-all", "tempo --doc / cargo test (all targets)",
                                TARGET_DOC_ALL)):
        ta = next((t for t, (n, _) in eff.items() if n == a), None)
        tb = next((t for t, (n, _) in eff.items() if n == b), None)
        if ta and tb:
            rows.append((what, f"{med[ta]:.2f} / {med[tb]:.2f}", med[ta] / med[tb], target))
    return rows


def count_mismatch(res: Result) -> str:
    """The runners compared must run the same tests: names the test-count pairs that
    differ between tools meant to run the same set (the doctest tools count apart)."""
    groups = {"tests": ("tempo", "tempo-base", "nextest", "cargo-test"), "all": ("tempo-doc", "cargo-test-all"),
              "doc": ("tempo-doconly", "cargo-test-doc")}
    notes = []
    for g, names in groups.items():
        seen = {}
        for t, runs in res.runs.items():
            if t.partition("@")[0] in names and runs and runs[-1].passed is not None:
                seen[t] = runs[-1].passed + (runs[-1].failed or 0)
        if len(set(seen.values())) > 1:
            notes.append(f"{g}: " + ", ".join(f"{label(t)} {n}" for t, n in seen.items()))
    return "; ".join(notes)


def verdict(results: list[Result], threads: str) -> str:
    """The verdict section: every ratio issue 14 sets a target for, per workload,
    marked against its target, so the report shows at a glance where targets hold."""
    lines = ["| workload | comparison | medians s | ratio | target | holds |", "|---|---|---|---:|---:|:---:|"]
    held = total = 0
    for res in results:
        for what, how, ratio, target in verdict_rows(res, threads):
            ok = ratio is not None and ratio <= target
            held += ok
            total += 1
            lines.append(f"| {res.workload} | {what} | {how} | {ratio:.2f}x | ≤ {target:.2f}x | "
                         f"{'yes' if ok else '**NO**'} |")
    if total == 0:
        return ""
    mism = [(r.workload, count_mismatch(r)) for r in results]
    out = [f"### Verdict: {held} of {total} targets hold", "",
           "Each ratio is a median over a median (below 1.00x: tempo is faster). tempo is tempo's default "
           "run (adaptive concurrency, no `-j`).", "", *lines]
    bad = [f"- {w}: test counts differ ({m})" for w, m in mism if m]
    if bad:
        out += ["", "Runners that should run the same tests counted differently:", *bad]
    return "\n".join(out)


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
    used = list(dict.fromkeys(tools + [t for r in results for t in r.runs]))
    for t in used:
        cmd = tool_command(t, Path("W"), args.threads, Path("cargo-tempo" if t.startswith("tempo") else ""), args.doc)
        cmd = [f"'{c}'" if " " in c or "(" in c else c for c in cmd]
        out.append(f"  - {label(t)}: `{' '.join(cmd)}`")
    if args.doc_compare:
        out.append("- doctest comparisons (the last four tools) on the doctest-heavy suites only: "
                   + ", ".join(f"`real:{n}`" for n, su in fetch_real.REAL_SUITES.items() if su.doc))
    out.append("")
    for res in results:
        out.append(workload_title(res))
        out.append("")
        out.append(table(res, tools + [t for t in res.runs if t not in tools], args.clean))
        out.append("")
    v = verdict(results, args.threads)
    if v:
        out.append(v)
        out.append("")
    return "\n".join(out)


def write_results(body: str, info: dict[str, str], args: argparse.Namespace, tools: list[str],
                  workloads: list[str], path: Path) -> None:
    """Appends a section to RESULTS.md, replacing an earlier one for the same
    day, tempo revision, workloads, tools, rounds and threads."""
    day = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    key = f"{day} tempo={info['tempo']} workloads={','.join(workloads)} tools={','.join(tools)} " \
          f"rounds={args.rounds} threads={args.threads}" + (" clean" if args.clean else "") + (" doc" if args.doc else "") \
        + (" doc-compare" if args.doc_compare else "")
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
    ap.add_argument("--doc-compare", action="store_true",
                    help="on the doctest-heavy real suites (REAL_SUITES with doc=True) also run, interleaved in the "
                         "same rounds, " + ", ".join(DOC_TOOLS) + ": the doctest targets of issue 14")
    ap.add_argument("--verdict", action="store_true",
                    help="issue 14's measurement in one run: the pinned real suites (unless --workloads), every tool "
                         "at its default, tempo at -j cores, 2x, 4x and 8x cores, and --doc-compare; the report ends "
                         "with the verdict table")
    ap.add_argument("--clean", action="store_true",
                    help="remove the workload's target directory before every run: measure build plus tests")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds before one run is killed (default: %(default)s)")
    ap.add_argument("--write-results", action="store_true", help=f"record the report in {RESULTS_MD.relative_to(REPO)}")
    ap.add_argument("--results-file", type=Path, default=RESULTS_MD,
                    help="where --write-results writes (default: bench/RESULTS.md)")
    args = ap.parse_args(argv)
    if args.verdict:
        if any(a.startswith("--tools") for a in (argv if argv is not None else sys.argv[1:])):
            ap.error("--verdict chooses the tools itself; leave out --tools")
        cores = default_threads()
        args.threads = "default"
        args.tools = ",".join(["tempo", *(f"tempo@{k * cores}" for k in (1, 2, 4, 8)), "nextest", "cargo-test"])
        args.doc_compare = True
        if args.workloads == ",".join(SYNTHETIC):
            args.workloads = "real"
    if args.doc and args.doc_compare:
        ap.error("--doc and --doc-compare don't mix: --doc-compare runs the doctest tools by themselves")

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
    uses_tempo = any(t.partition("@")[0] in ("tempo", "tempo-doc", "tempo-doconly") for t in tools) or args.doc_compare
    if uses_tempo and not ensure_tempo(tempo_bin, not args.no_build_tempo, args.rebuild_tempo):
        tools = [t for t in tools if t.partition("@")[0] not in ("tempo", "tempo-doc", "tempo-doconly")]
        args.doc_compare = False
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
        wtools = tools + [t for t in DOC_TOOLS if args.doc_compare and is_doc_suite(w) and t not in tools]
        log(f"{w}: warming the build in {ws}")
        for t in wtools:
            clean_target(ws, args.clean)
            run = timed_run(tool_command(t, ws, args.threads, tempo_bin, args.doc), ws,
                            LOG_DIR / f"{safe}.{t}.warmup.log", args.timeout, run_env(w, args.clean, t))
            res.warm[t] = run
            log(f"  warm-up {t:<14} {run.seconds:7.2f} s  exit {run.rc}")
        for r in range(args.rounds):
            order = wtools[r % len(wtools):] + wtools[:r % len(wtools)]
            for t in order:
                clean_target(ws, args.clean)
                run = timed_run(tool_command(t, ws, args.threads, tempo_bin, args.doc), ws,
                                LOG_DIR / f"{safe}.{t}.log", args.timeout, run_env(w, args.clean, t))
                res.runs.setdefault(t, []).append(run)
                counts = "" if run.passed is None else f"  {run.passed} passed, {run.failed} failed"
                log(f"  round {r + 1}/{args.rounds} {t:<14} {run.seconds:7.2f} s  exit {run.rc}{counts}"
                    + ("  (rebuilt!)" if run.rebuilt and not args.clean else ""))
        results.append(res)
        log("\n" + workload_title(res) + "\n\n" + table(res, wtools, args.clean) + "\n")

    body = report(results, tools, info, args, tempo_bin)
    print(body)
    if args.write_results:
        write_results(body, info, args, tools, workloads, args.results_file)
        log(f"wrote {args.results_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
