//! The environment a test process sees: what `cargo test` would give it, plus tempo's own variables.
//!
//! Tests written for `cargo test` read `CARGO_MANIFEST_DIR`, `OUT_DIR` and friends at run
//! time, and tests written for nextest look for `NEXTEST`; both must keep working.
//! The per-binary part is computed once, so spawning a test only adds a few variables.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::build::{TestBinary, cargo_program};

/// The variables shared by every test of one binary.
#[derive(Debug, Clone, Default)]
pub struct BinaryEnv {
    /// Name/value pairs, in the order they are applied.
    pub vars: Vec<(OsString, OsString)>,
}

/// Facts about the run that every test's environment mentions.
#[derive(Debug, Clone)]
pub struct RunEnv {
    /// The run's id (`TEMPO_RUN_ID`, `NEXTEST_RUN_ID`).
    pub run_id: String,
    /// The profile in use.
    pub profile: String,
    /// The workspace root.
    pub workspace_root: PathBuf,
}

/// The name of the platform's dynamic-library search path variable.
pub const DYLIB_PATH_VAR: &str =
    if cfg!(target_os = "macos") { "DYLD_FALLBACK_LIBRARY_PATH" } else { "LD_LIBRARY_PATH" };

/// The sysroot's library directory, for tests built with `-C prefer-dynamic`; asked of rustc once.
fn sysroot_lib() -> Option<&'static Path> {
    static SYSROOT: OnceLock<Option<PathBuf>> = OnceLock::new();
    SYSROOT
        .get_or_init(|| {
            let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
            let out = std::process::Command::new(rustc).args(["--print", "sysroot"]).output().ok()?;
            let root = String::from_utf8(out.stdout).ok()?;
            out.status.success().then(|| PathBuf::from(root.trim()).join("lib"))
        })
        .as_deref()
}

/// Starts computing the sysroot on another thread, so that it is ready when the first binary is.
pub fn warm_up() {
    // Once per process: set-up paths that call it twice start one thread.
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        std::thread::spawn(|| {
            sysroot_lib();
        });
    });
}

impl BinaryEnv {
    /// Computes the variables for one test binary, as cargo would set them for `cargo test`.
    pub fn for_binary(binary: &TestBinary, run: &RunEnv) -> BinaryEnv {
        let pkg = &binary.package;
        let mut vars: Vec<(OsString, OsString)> = Vec::with_capacity(32);
        let mut set = |k: &str, v: &OsStr| vars.push((k.into(), v.to_owned()));

        set("CARGO", &cargo_program());
        set("CARGO_MANIFEST_DIR", pkg.root().as_os_str());
        set("CARGO_MANIFEST_PATH", pkg.manifest_path.as_os_str());
        set("CARGO_PKG_NAME", pkg.name.as_ref());
        set("CARGO_CRATE_NAME", binary.target_name.replace('-', "_").as_ref());
        let v = &pkg.version;
        set("CARGO_PKG_VERSION", v.to_string().as_ref());
        set("CARGO_PKG_VERSION_MAJOR", v.major.to_string().as_ref());
        set("CARGO_PKG_VERSION_MINOR", v.minor.to_string().as_ref());
        set("CARGO_PKG_VERSION_PATCH", v.patch.to_string().as_ref());
        set("CARGO_PKG_VERSION_PRE", v.pre.as_str().as_ref());
        set("CARGO_PKG_AUTHORS", pkg.authors.join(":").as_ref());
        let opt = |o: &Option<String>| o.clone().unwrap_or_default();
        set("CARGO_PKG_DESCRIPTION", opt(&pkg.description).as_ref());
        set("CARGO_PKG_HOMEPAGE", opt(&pkg.homepage).as_ref());
        set("CARGO_PKG_REPOSITORY", opt(&pkg.repository).as_ref());
        set("CARGO_PKG_LICENSE", opt(&pkg.license).as_ref());
        set("CARGO_PKG_LICENSE_FILE", opt(&pkg.license_file).as_ref());
        set("CARGO_PKG_RUST_VERSION", opt(&pkg.rust_version).as_ref());
        set("CARGO_PKG_README", opt(&pkg.readme).as_ref());

        for (name, path) in &binary.bin_exes() {
            set(&format!("CARGO_BIN_EXE_{name}"), path.as_os_str());
            set(&format!("NEXTEST_BIN_EXE_{name}"), path.as_os_str());
        }

        let mut lib_dirs: Vec<PathBuf> = Vec::new();
        if let Some(script) = &binary.build_script {
            if let Some(out_dir) = &script.out_dir {
                set("OUT_DIR", out_dir.as_os_str());
            }
            for (k, v) in &script.env {
                set(k, v.as_ref());
            }
            lib_dirs.extend(script.linked_paths.iter().cloned());
        }
        // cargo puts the deps directory and the profile directory on the library path.
        if let Some(profile_dir) = binary.profile_dir() {
            lib_dirs.push(profile_dir.join("deps"));
            lib_dirs.push(profile_dir.to_path_buf());
        }
        if let Some(sysroot) = sysroot_lib() {
            lib_dirs.push(sysroot.to_path_buf());
        }
        if let Some(existing) = std::env::var_os(DYLIB_PATH_VAR) {
            lib_dirs.extend(std::env::split_paths(&existing));
        }
        if let Ok(joined) = std::env::join_paths(lib_dirs) {
            set(DYLIB_PATH_VAR, &joined);
        }

        set("TEMPO", "1".as_ref());
        set("TEMPO_RUN_ID", run.run_id.as_ref());
        set("TEMPO_PROFILE", run.profile.as_ref());
        set("TEMPO_BINARY_ID", binary.id.as_str().as_ref());
        set("TEMPO_WORKSPACE_ROOT", run.workspace_root.as_os_str());
        set("NEXTEST", "1".as_ref());
        set("NEXTEST_RUN_ID", run.run_id.as_ref());
        set("NEXTEST_PROFILE", run.profile.as_ref());
        set("NEXTEST_EXECUTION_MODE", "process-per-test".as_ref());
        set("NEXTEST_BINARY_ID", binary.id.as_str().as_ref());
        set("NEXTEST_WORKSPACE_ROOT", run.workspace_root.as_os_str());
        BinaryEnv { vars }
    }
}

/// The variables that differ from one test process to the next.
pub fn per_test_vars(name: &str, attempt: u32, slot: usize) -> [(&'static str, String); 6] {
    [
        ("TEMPO_TEST_NAME", name.to_owned()),
        ("TEMPO_ATTEMPT", attempt.to_string()),
        ("TEMPO_SLOT", slot.to_string()),
        ("NEXTEST_TEST_NAME", name.to_owned()),
        ("NEXTEST_ATTEMPT", attempt.to_string()),
        ("NEXTEST_TEST_GLOBAL_SLOT", slot.to_string()),
    ]
}

/// A fresh run id: 128 random bits from the kernel, formatted like a UUID.
pub fn new_run_id() -> String {
    let mut bytes = [0u8; 16];
    if rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty()).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        bytes = (nanos ^ u128::from(std::process::id())).to_le_bytes();
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// The number of cores tempo may use.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
