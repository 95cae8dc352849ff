#!/usr/bin/env python3
"""Fetch published crates (with their test suites) from crates.io for benchmarking.

    bench/fetch_real.py                      # the pinned crates in REAL_CRATES
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
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REAL_DIR = BENCH_DIR / "real"
FETCH_DIR = REAL_DIR / "_fetch"

# The crates the benchmark uses by default, pinned so that results stay
# comparable. Each one ships its tests/ directory in the published package,
# builds in well under a minute on 2 cores, and passes under cargo-nextest
# (checked when they were chosen; see bench/README.md).
REAL_CRATES: dict[str, str] = {
    # 444 tests in 13 binaries (many quickcheck properties); ~9 s under nextest -j2.
    "itertools": "0.15.0",
    # 115 tests in 7 binaries, one of them a ~4.6 s straggler; ~5 s under nextest -j2.
    "hashbrown": "0.17.2",
    # 1080 tests in 14 binaries, one of them a ~22 s straggler; ~41 s under nextest -j2.
    "bytes": "1.12.2",
}


def cargo_home() -> Path:
    return Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo")


def parse_spec(spec: str) -> tuple[str, str | None]:
    name, _, version = spec.partition("@")
    return name, (version or REAL_CRATES.get(name))


def crate_dir(name: str, version: str) -> Path:
    return REAL_DIR / f"{name}-{version}"


def find_existing(name: str) -> Path | None:
    """The already fetched copy of `name`: the pinned version if present, else the newest."""
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


def fetch(spec: str, force: bool = False, quiet: bool = False) -> Path:
    """Fetches NAME[@VERSION] and returns the directory of its workspace copy."""
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
    specs = args.crates or [f"{n}@{v}" for n, v in REAL_CRATES.items()]
    for spec in specs:
        dest = fetch(spec, force=args.force)
        tests = dest / "tests"
        n_files = len(list(tests.glob("*.rs"))) if tests.is_dir() else 0
        print(f"{spec}: {dest.relative_to(BENCH_DIR.parent)} ({n_files} files in tests/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
