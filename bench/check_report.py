#!/usr/bin/env python3
"""Check tempo's HTML report in a real browser: headless chromium renders it, and
any script error fails the check.

    bench/check_report.py                    # run the fixture workspaces, check their reports
    bench/check_report.py REPORT.html ...    # check reports that already exist
    bench/check_report.py --demo             # run examples/demo twice, check, write docs/report.png
    bench/check_report.py --scale 10000      # generate, run and check a 10,000-test suite; print size and render time

Each report is loaded with `chromium --headless --dump-dom` and
`--enable-logging=stderr --v=0`, which prints every console message. The check
fails when chromium logs an uncaught exception or a console error, when the
report's own `window.onerror` hook has written its `tempo-js-error` marker into
the page, or when the rendered page lacks the timeline.

Render time is what the report's own script measures and writes into the page
as `data-layout-ms`: the milliseconds from the start of navigation until the
document is parsed, styled and laid out (the median of three loads). Painting
comes after and is not included.

Needs Python 3.9+ and Debian's chromium (`apt-get install -y chromium`); exits
2 with a message when chromium is missing. Builds `target/release/cargo-tempo`
unless `--tempo` names a binary.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_TARGET = ROOT / "target" / "fixture-target"

# Console lines that mean the page's script failed.
CONSOLE_ERROR = re.compile(r"CONSOLE.*(Uncaught|Error)|Uncaught ", re.IGNORECASE)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    print("error: chromium is not installed; install Debian's package with `apt-get install -y chromium`", file=sys.stderr)
    sys.exit(2)


def browser_args(*extra: str) -> list[str]:
    return [
        chromium(),
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        "--disable-extensions",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        *extra,
    ]


def dump_dom(url: str) -> tuple[str, str, float]:
    """Loads `url` and returns the DOM after scripts ran, chromium's stderr and the wall time."""
    started = time.monotonic()
    proc = subprocess.run(
        browser_args("--dump-dom", url), capture_output=True, text=True, timeout=120, env=quiet_env()
    )
    took = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"error: chromium failed on {url} (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return proc.stdout, proc.stderr, took


def quiet_env() -> dict[str, str]:
    # No D-Bus here: chromium complains on stderr, which is noise, not page errors.
    env = dict(os.environ)
    env.setdefault("DBUS_SESSION_BUS_ADDRESS", "disabled:")
    return env


def render_time(report: Path) -> float:
    """Milliseconds chromium needs to parse, style and lay out `report` (median of three)."""
    times = []
    for _ in range(3):
        dom = dump_dom(report.resolve().as_uri())[0]
        found = re.search(r'data-layout-ms="(\d+)"', dom)
        if not found:
            raise SystemExit(f"error: {report} did not record its layout time (data-layout-ms)")
        times.append(float(found.group(1)))
    return statistics.median(times)


def check(report: Path, measure: bool = False) -> None:
    """Fails (SystemExit) if the report does not render cleanly."""
    if not report.is_file():
        raise SystemExit(f"error: no report at {report}; did the run write one?")
    dom, stderr, _ = dump_dom(report.resolve().as_uri())
    errors = [line for line in stderr.splitlines() if CONSOLE_ERROR.search(line)]
    problems = []
    if errors:
        problems.append("console errors:\n  " + "\n  ".join(errors))
    marker = re.search(r'<div id="tempo-js-error"[^>]*>([^<]*)', dom)
    if marker:
        problems.append(f"the page's error hook fired: {marker.group(1)}")
    for needle in ('id="lanes"', 'class="lane"', 'id="cpu"', 'id="running"', 'id="slowest"', 'id="problems"'):
        if needle not in dom:
            problems.append(f"the rendered page lacks {needle}")
    size = report.stat().st_size
    if problems:
        raise SystemExit(f"FAIL {report}: " + "; ".join(problems))
    line = f"ok   {report} ({size:,} bytes, {dom.count('<rect'):,} rects)"
    if measure:
        line += f", parsed and laid out in {render_time(report):.0f} ms"
    print(line, flush=True)


def screenshot(report: Path, out: Path, height: int) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        browser_args(f"--window-size=1280,{height}", f"--screenshot={out}", report.resolve().as_uri()),
        check=True,
        capture_output=True,
        timeout=120,
        env=quiet_env(),
    )
    print(f"screenshot {out}")


def tempo_binary(given: str | None) -> Path:
    if given:
        return Path(given).resolve()
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    return ROOT / "target" / "release" / "cargo-tempo"


def run_tempo(tempo: Path, manifest_dir: Path, args: list[str], env: dict[str, str] | None = None) -> int:
    cmd = [str(tempo), "tempo", "run", "--manifest-path", str(manifest_dir / "Cargo.toml"), *args]
    proc = subprocess.run(cmd, cwd=manifest_dir, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    last = proc.stdout.strip().splitlines()[-1:] or [proc.stderr.strip()[-300:]]
    print(f"run  {manifest_dir.name} {' '.join(args)}: exit {proc.returncode}: {last[0]}", flush=True)
    if proc.returncode not in (0, 100):
        raise SystemExit(f"error: tempo exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc.returncode


def fixtures(tempo: Path) -> None:
    """The acceptance check: reports of the fixture crates, with failures, retries and a timeout."""
    with tempfile.TemporaryDirectory() as store:
        env = {"CARGO_TARGET_DIR": str(FIXTURE_TARGET), "TEMPO_STORE_DIR": store}
        workspace, config_ws = ROOT / "tests/fixtures/workspace", ROOT / "tests/fixtures/config-ws"
        run_tempo(tempo, workspace, ["--no-fail-fast"], env)
        check(Path(store) / "default/report.html")
        run_tempo(tempo, config_ws, ["--retries", "2", "--report", f"{store}/retries.html"], env)
        check(Path(store) / "retries.html")
        run_tempo(tempo, config_ws, ["-P", "timeouts", "--include-ignored", "--exact", "hangs", "steady_00"], env)
        check(Path(store) / "timeouts/report.html")


def demo(tempo: Path, out: Path) -> None:
    """Runs the demo twice (the second run has a history), checks the report, screenshots it."""
    demo_dir = ROOT / "examples/demo"
    for _ in range(2):
        run_tempo(tempo, demo_dir, [])
    report = demo_dir / "target/tempo/default/report.html"
    check(report, measure=True)
    screenshot(report, out, 1900)


def scale_suite(root: Path, n: int) -> None:
    """A crate of `n` tests: mostly trivial, some sleeping, some busy, a few failing."""
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "Cargo.toml").write_text(
        '[package]\nname = "scale"\nversion = "0.1.0"\nedition = "2021"\n\n[lib]\ndoctest = false\n\n[workspace]\n'
    )
    modules = 20
    lib = ["//! Generated by tempo's bench/check_report.py --scale.\n"]
    for m in range(modules):
        lib.append(f"#[cfg(test)]\nmod m{m:02} {{\n")
        for i in range(m, n, modules):
            if i % 997 == 13:
                body = f'panic!("test {i} fails on purpose");'
            elif i % 100 == 50:
                body = "std::thread::sleep(std::time::Duration::from_millis(20));"
            elif i % 250 == 7:
                body = "let mut x = 0u64; for k in 0..3_000_000u64 { x = x.wrapping_mul(31).wrapping_add(k); } assert!(x != 1);"
            else:
                body = f"assert_eq!({i} + 1, {i + 1});"
            lib.append(f"    #[test]\n    fn t{i:05}() {{ {body} }}\n")
        lib.append("}\n")
    text = "".join(lib)
    path = root / "src/lib.rs"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def scale(tempo: Path, n: int) -> None:
    work = ROOT / "target" / "report-scale" / f"n{n}"
    scale_suite(work, n)
    print(f"building {n} tests in {work} ...", flush=True)
    subprocess.run(["cargo", "test", "--no-run", "--quiet"], cwd=work, check=True)
    with tempfile.TemporaryDirectory() as store:
        env = {"TEMPO_STORE_DIR": store}
        for label in ("first run, no history (a process per test)", "second run, with history (batched)"):
            run_tempo(tempo, work, ["--no-fail-fast", "--status-level", "fail"], env)
            print(f"     {label}:")
            check(Path(store) / "default/report.html", measure=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reports", nargs="*", type=Path, help="reports to check (default: run the fixtures)")
    ap.add_argument("--demo", action="store_true", help="run examples/demo twice and write a screenshot")
    ap.add_argument("--screenshot", type=Path, default=ROOT / "docs/report.png", help="where --demo writes it")
    ap.add_argument("--scale", type=int, metavar="N", help="generate, run and check a suite of N tests")
    ap.add_argument("--tempo", help="the cargo-tempo binary (default: build target/release/cargo-tempo)")
    ap.add_argument("--measure", action="store_true", help="also print each report's render time")
    args = ap.parse_args(argv)
    chromium()
    if args.reports:
        for report in args.reports:
            check(report, measure=args.measure)
        return 0
    tempo = tempo_binary(args.tempo)
    if args.demo:
        demo(tempo, args.screenshot)
    elif args.scale:
        scale(tempo, args.scale)
    else:
        fixtures(tempo)
    return 0


if __name__ == "__main__":
    sys.exit(main())
