#!/usr/bin/env python3
"""Fetch published crates (with their test suites) from crates.io for benchmarking.

    bench/fetch_real.py                      # the pinned suites in REAL_SUITES (crates and workspaces)
    bench/fetch_real.py crossbeam            # one assembled workspace of REAL_WORKSPACES
    bench/fetch_real.py semver strsim@0.11.1 # named crates (latest or pinned version)

For each crate this creates a scratch Cargo project in bench/real/_fetch that
depends on exactly that version, runs `cargo fetch` (cargo downloads and
unpacks the .crate into $CARGO_HOME/registry/src), then copies the unpacked
source to bench/real/NAME-VERSION and makes it a workspace root of its own by
appending `[workspace]` to its Cargo.toml. Nothing under bench/real is
committed (it is gitignored).

Only cargo talks to the registry; this script never downloads anything itself.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REAL_DIR = BENCH_DIR / "real"
FETCH_DIR = REAL_DIR / "_fetch"

@dataclass(frozen=True)
class Suite:
    """One pinned real suite of the benchmark: what it stands for, and what was measured
    when it was chosen (bench/README.md has the same table, with the timings)."""

    version: str
    # What the suite covers among the kinds of suite issue 14 names: `lock/channel`,
    # `property`, `tiny`, `should_panic`, `doctest-2021`, `doctest-2024`, `workspace`.
    categories: tuple[str, ...]
    # Doctest-heavy: bench.py also runs the doctest comparisons on it (`--doc-compare`).
    doc: bool = False
    note: str = ""


# The suites the benchmark uses by default (`real`), pinned so that results stay
# comparable. Each one ships its tests in the published package, builds on 2 cores in
# about a minute or less, and its whole suite takes a few seconds to ~25 s under
# `cargo nextest run` on 2 cores. Test counts and failures are in bench/README.md.
REAL_SUITES: dict[str, Suite] = {
    # lock and channel concurrency: threads that contend on locks, park and time out.
    "parking_lot": Suite("0.13.0", ("lock/channel",), note="mutex, rwlock, condvar, once tests with threads and timeouts"),
    "spin": Suite("0.12.3", ("lock/channel",), note="spin locks: threads that busy-wait on each other"),
    # CPU-bound property tests.
    "itertools": Suite("0.15.0", ("property",), note="many quickcheck properties of 0.1-1 s"),
    "indexmap": Suite("2.14.2", ("doctest-2024", "property", "should_panic"), doc=True,
                      note="edition 2024 (merged doctests); quickcheck properties; index-out-of-bounds panics"),
    # Many tiny tests.
    "semver": Suite("1.0.28", ("tiny",), note="parse and compare tests of microseconds"),
    "regex-syntax": Suite("0.8.12", ("tiny",), note="instant parser unit tests, nearly all in the library"),
    "strsim": Suite("0.11.1", ("tiny",), note="instant string-metric tests"),
    # should_panic-heavy.
    "arrayvec": Suite("0.7.9", ("should_panic",), note="capacity-overflow and index panics"),
    "hashbrown": Suite("0.17.2", ("doctest-2024", "should_panic"), doc=True,
                       note="edition 2024, ~300 doctests; one ~4.6 s straggler (test_lots_of_insertions)"),
    # Doctest-heavy, edition 2021.
    "either": Suite("1.19.0", ("doctest-2021",), doc=True, note="61 doctests and 8 unit tests"),
    "crossbeam-utils": Suite("0.8.23", ("doctest-2021", "lock/channel"), doc=True,
                             note="~80 doctests; scoped threads, parker, sharded lock, atomics"),
}

# Multi-package workspaces assembled from crates.io packages: member -> version. Each
# member is copied into bench/real/NAME-ws/MEMBER, and the generated root manifest
# lists them as members and patches crates.io to the local copies, so the members
# depend on each other by path as they do in their own repository. Run as `real:NAME`.
REAL_WORKSPACES: dict[str, dict[str, str]] = {
    # crossbeam's repository, less crossbeam-channel (~95 s a run, mostly timing loops)
    # and crossbeam-queue (one 41 s test): both alone exceed the time budget.
    "crossbeam": {"crossbeam-utils": "0.8.23", "crossbeam-epoch": "0.9.21", "crossbeam-deque": "0.8.8"},
}
REAL_SUITES["crossbeam"] = Suite("ws", ("workspace", "lock/channel"),
                                 note="crossbeam-utils, -epoch, -deque as one workspace, by path")

# Tried and left out of the pinned set (each still runs as `real:NAME@VERSION`):
# bytes 1.12.2 (1080 tests, 34 should_panic, passes; but ~30-50 s a run under nextest
# -j2, mostly one test that prints ~2.8 million lines: over the time budget),
# flume 0.12.0 (236 tests, ~60 s a run, `basic::recv_timeout` fails under load, and
# ~2 minutes to build its dev-dependencies), smallvec 1.16.6 (63 tests, few panics),
# crossbeam-channel 0.5.17 (~95 s a run), crossbeam-queue 0.3.14 (one 41 s test).

# NAME -> version of the single crates of the pinned set (kept for `fetch_real.py` without arguments).
REAL_CRATES: dict[str, str] = {n: s.version for n, s in REAL_SUITES.items() if n not in REAL_WORKSPACES}


def cargo_home() -> Path:
    return Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo")


def parse_spec(spec: str) -> tuple[str, str | None]:
    name, _, version = spec.partition("@")
    return name, (version or REAL_CRATES.get(name))


def crate_dir(name: str, version: str) -> Path:
    return REAL_DIR / f"{name}-{version}"


def find_existing(name: str) -> Path | None:
    """The already fetched copy of `name`: the pinned version if present, else the newest."""
    if name in REAL_WORKSPACES:
        return workspace_dir(name) if (workspace_dir(name) / "Cargo.toml").is_file() else None
    pinned = REAL_CRATES.get(name)
    if pinned and (crate_dir(name, pinned) / "Cargo.toml").is_file():
        return crate_dir(name, pinned)
    rx = re.compile(re.escape(name) + r"-(\d[0-9A-Za-z.+-]*)$")
    found = []
    for p in REAL_DIR.glob(f"{name}-*"):
        m = rx.match(p.name)
        if m and (p / "Cargo.toml").is_file():
            found.append((version_key(m.group(1)), p))
    return max(found)[1] if found else None


def version_key(v: str) -> tuple:
    core = v.split("+")[0].split("-")[0]
    return tuple(int(x) if x.isdigit() else 0 for x in core.split("."))


def write_scratch(name: str, version: str | None) -> None:
    FETCH_DIR.mkdir(parents=True, exist_ok=True)
    (FETCH_DIR / "src").mkdir(exist_ok=True)
    (FETCH_DIR / "src" / "lib.rs").write_text("")
    req = f"={version}" if version else "*"
    (FETCH_DIR / "Cargo.toml").write_text(
        "[package]\n"
        'name = "tempo-bench-fetch"\n'
        'version = "0.0.0"\n'
        'edition = "2021"\n'
        "publish = false\n\n"
        "[dependencies]\n"
        f'{json.dumps(name)} = {{ version = "{req}", default-features = false }}\n\n'
        "[workspace]\n"
    )
    lock = FETCH_DIR / "Cargo.lock"
    if lock.exists():
        lock.unlink()


def resolved_version(name: str) -> str:
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--manifest-path", str(FETCH_DIR / "Cargo.toml")],
        check=True, capture_output=True, text=True,
    ).stdout
    for pkg in json.loads(out)["packages"]:
        if pkg["name"] == name:
            return pkg["version"]
    raise SystemExit(f"fetch_real: {name} did not resolve")


def unpacked_source(name: str, version: str) -> Path:
    home = cargo_home()
    hits = sorted(glob.glob(str(home / "registry" / "src" / "*" / f"{name}-{version}")))
    if hits:
        return Path(hits[0])
    # Not unpacked yet: unpack the downloaded .crate (a gzipped tarball).
    crates = sorted(glob.glob(str(home / "registry" / "cache" / "*" / f"{name}-{version}.crate")))
    if not crates:
        raise SystemExit(f"fetch_real: {name}-{version} is neither unpacked nor downloaded")
    dest_root = Path(crates[0]).parent.parent.parent / "src" / Path(crates[0]).parent.name
    dest_root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(crates[0]) as tar:
        tar.extractall(dest_root, filter="data")
    return dest_root / f"{name}-{version}"


def make_workspace_root(manifest: Path) -> None:
    text = manifest.read_text()
    if not re.search(r"(?m)^\[workspace\]", text):
        manifest.write_text(text.rstrip("\n") + "\n\n# Added by tempo's bench/fetch_real.py: a workspace of its own.\n[workspace]\n")


def workspace_dir(name: str) -> Path:
    return REAL_DIR / f"{name}-ws"


def fetch_workspace(name: str, force: bool = False, quiet: bool = False) -> Path:
    """Assembles the workspace `name` of REAL_WORKSPACES in bench/real/NAME-ws: each
    member's published source in a directory of its own, a root manifest listing them,
    and `[patch.crates-io]` so that they use each other's local copy."""
    members = REAL_WORKSPACES[name]
    dest = workspace_dir(name)
    if (dest / "Cargo.toml").is_file() and not force:
        return dest
    out = None if not quiet else subprocess.DEVNULL
    for member, version in members.items():
        write_scratch(member, version)
        subprocess.run(["cargo", "fetch", "--manifest-path", str(FETCH_DIR / "Cargo.toml")],
                       check=True, stdout=out, stderr=out)
        mdest = dest / member
        if mdest.exists():
            shutil.rmtree(mdest)
        shutil.copytree(unpacked_source(member, version), mdest, symlinks=True)
        for p in mdest.rglob("*"):
            if not p.is_symlink():
                p.chmod(p.stat().st_mode | 0o200)
    root = ["# Generated by tempo's bench/fetch_real.py: crates.io packages as one workspace.",
            "[workspace]", 'resolver = "2"', "members = [" + ", ".join(json.dumps(m) for m in members) + "]",
            "", "[patch.crates-io]"]
    root += [f'{json.dumps(m)} = {{ path = {json.dumps(m)} }}' for m in members]
    (dest / "Cargo.toml").write_text("\n".join(root) + "\n")
    return dest


def fetch(spec: str, force: bool = False, quiet: bool = False) -> Path:
    """Fetches NAME[@VERSION] (or assembles the workspace NAME) and returns the
    directory of its workspace root."""
    if spec in REAL_WORKSPACES:
        return fetch_workspace(spec, force, quiet)
    name, version = parse_spec(spec)
    if version and not force and (crate_dir(name, version) / "Cargo.toml").is_file():
        return crate_dir(name, version)
    write_scratch(name, version)
    out = None if not quiet else subprocess.DEVNULL
    subprocess.run(["cargo", "fetch", "--manifest-path", str(FETCH_DIR / "Cargo.toml")],
                   check=True, stdout=out, stderr=out)
    version = resolved_version(name)
    dest = crate_dir(name, version)
    if dest.exists():
        if not force:
            return dest
        shutil.rmtree(dest)
    shutil.copytree(unpacked_source(name, version), dest, symlinks=True)
    for p in dest.rglob("*"):  # registry sources are unpacked read-only
        if not p.is_symlink():
            p.chmod(p.stat().st_mode | 0o200)
    make_workspace_root(dest / "Cargo.toml")
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("crates", nargs="*", help="NAME or NAME@VERSION (default: the pinned set)")
    ap.add_argument("--force", action="store_true", help="copy again even if already present")
    args = ap.parse_args(argv)
    specs = args.crates or [n if n in REAL_WORKSPACES else f"{n}@{s.version}" for n, s in REAL_SUITES.items()]
    for spec in specs:
        dest = fetch(spec, force=args.force)
        n_files = sum(1 for _ in dest.glob("**/tests/*.rs"))
        print(f"{spec}: {dest.relative_to(BENCH_DIR.parent)} ({n_files} files in tests/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
