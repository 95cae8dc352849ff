//! Builds the test binaries with cargo and reports each one the moment it is linked.
//!
//! tempo never compiles anything itself: it runs `cargo test --no-run` with JSON
//! messages and reads them as they stream, so that a later stage can start listing
//! and running a binary while cargo is still compiling the rest of the workspace.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use cargo_metadata::{Message, Metadata, MetadataCommand, PackageId};

use crate::error::{Error, Result};
use crate::test_id::{BinaryId, TargetKind};

mod meta_cache;
pub use meta_cache::{MetadataCache, path as meta_cache_path};

/// The path of the cargo that invoked tempo (cargo sets `CARGO` for subcommands), or `cargo`.
pub fn cargo_program() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// What tempo knows about a workspace package, from `cargo metadata`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct PackageInfo {
    /// The package's name, as written in its manifest.
    pub name: String,
    /// Its version.
    pub version: cargo_metadata::semver::Version,
    /// The path of its Cargo.toml.
    pub manifest_path: PathBuf,
    /// Its authors.
    pub authors: Vec<String>,
    /// Its description.
    pub description: Option<String>,
    /// Its homepage.
    pub homepage: Option<String>,
    /// Its repository.
    pub repository: Option<String>,
    /// Its license expression.
    pub license: Option<String>,
    /// Its license file.
    pub license_file: Option<String>,
    /// Its `rust-version`.
    pub rust_version: Option<String>,
    /// Its readme.
    pub readme: Option<String>,
    /// The names of its binary targets, for `CARGO_BIN_EXE_<name>`.
    pub bin_targets: Vec<String>,
    /// Whether it has a build script, whose output its tests must see.
    pub has_build_script: bool,
    /// Whether its library has doctests for rustdoc to run.
    pub has_doctests: bool,
}

impl PackageInfo {
    /// The directory that holds the package's manifest: tests run there, as under `cargo test`.
    pub fn root(&self) -> &Path {
        self.manifest_path.parent().unwrap_or(Path::new("."))
    }
}

/// The workspace as `cargo metadata` describes it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Workspace {
    /// The workspace root directory.
    pub root: PathBuf,
    /// The target directory.
    pub target_dir: PathBuf,
    /// Workspace members and path dependencies, by package id.
    pub packages: HashMap<PackageId, Arc<PackageInfo>>,
}

/// The workspace root as far as the files say, without asking cargo: walking up
/// from the manifest (or the current directory), the first directory whose
/// `Cargo.toml` has a `[workspace]` table, else the first with a `Cargo.toml`.
/// Only a guess (a member may name its workspace elsewhere); [`workspace`] is the
/// answer.
pub fn guess_workspace_root(manifest_path: Option<&Path>) -> Option<PathBuf> {
    let start = match manifest_path {
        Some(p) => std::path::absolute(p).ok()?.parent()?.to_path_buf(),
        None => std::env::current_dir().ok()?,
    };
    let mut first = None;
    for dir in start.ancestors() {
        let Ok(text) = std::fs::read_to_string(dir.join("Cargo.toml")) else { continue };
        if text.lines().any(|l| l.trim_start().starts_with("[workspace]")) {
            return Some(dir.to_path_buf());
        }
        first.get_or_insert_with(|| dir.to_path_buf());
    }
    first
}

/// The workspace as `cargo metadata --no-deps` described it last time, if `cache`
/// holds an answer for this invocation whose inputs are unchanged; otherwise cargo's
/// answer, stored in `cache` (see [`MetadataCache`]).
pub fn workspace_cached(opts: &CargoOptions, cache: Option<&MetadataCache>) -> Result<Workspace> {
    let Some(cache) = cache else { return workspace(opts) };
    if let Some(workspace) = cache.get() {
        crate::phase::mark("cargo metadata cached");
        return Ok(workspace);
    }
    let started = std::time::SystemTime::now();
    let workspace = workspace(opts)?;
    cache.store(&workspace, started);
    Ok(workspace)
}

/// Reads the workspace's metadata with `cargo metadata --no-deps`.
pub fn workspace(opts: &CargoOptions) -> Result<Workspace> {
    if let Some(path) = &opts.manifest_path
        && !path.is_file()
    {
        return Err(Error::ManifestNotFound(path.clone()));
    }
    let mut cmd = MetadataCommand::new();
    cmd.cargo_path(cargo_program()).no_deps();
    if let Some(path) = &opts.manifest_path {
        cmd.manifest_path(path);
    }
    if let Some(dir) = &opts.target_dir {
        // `cargo metadata` has no --target-dir; the environment variable has the same effect.
        cmd.env("CARGO_TARGET_DIR", dir);
    }
    let metadata = cmd.exec().map_err(|e| match e {
        cargo_metadata::Error::Io(source) if source.kind() == std::io::ErrorKind::NotFound => {
            Error::CargoNotFound { program: cargo_program().to_string_lossy().into_owned(), source }
        }
        cargo_metadata::Error::CargoMetadata { stderr } => Error::Metadata(stderr.trim().to_owned()),
        other => Error::Metadata(other.to_string()),
    })?;
    Ok(workspace_from_metadata(metadata))
}

fn workspace_from_metadata(metadata: Metadata) -> Workspace {
    let packages = metadata
        .packages
        .into_iter()
        .map(|p| {
            let info = PackageInfo {
                name: p.name.to_string(),
                version: p.version,
                manifest_path: p.manifest_path.into_std_path_buf(),
                authors: p.authors,
                description: p.description,
                homepage: p.homepage,
                repository: p.repository,
                license: p.license,
                license_file: p.license_file.map(|f| f.to_string()),
                rust_version: p.rust_version.map(|v| v.to_string()),
                readme: p.readme.map(|r| r.to_string()),
                bin_targets: p.targets.iter().filter(|t| t.is_bin()).map(|t| t.name.clone()).collect(),
                has_build_script: p.targets.iter().any(|t| t.is_custom_build()),
                has_doctests: p.targets.iter().any(|t| t.is_lib() && t.doctest),
            };
            (p.id, Arc::new(info))
        })
        .collect();
    Workspace {
        root: metadata.workspace_root.into_std_path_buf(),
        target_dir: metadata.target_directory.into_std_path_buf(),
        packages,
    }
}

/// What a package's build script left behind for the package's tests.
#[derive(Debug, Default, Clone)]
pub struct BuildScriptOutput {
    /// The script's `OUT_DIR`.
    pub out_dir: Option<PathBuf>,
    /// `cargo:rustc-env=K=V` pairs.
    pub env: Vec<(String, String)>,
    /// `cargo:rustc-link-search` directories, for the dynamic-library path.
    pub linked_paths: Vec<PathBuf>,
}

/// A compiled test binary, ready to be listed and run.
#[derive(Debug)]
pub struct TestBinary {
    /// nextest-style binary id.
    pub id: BinaryId,
    /// Path of the executable.
    pub path: PathBuf,
    /// The target's kind.
    pub kind: TargetKind,
    /// The kind as nextest's `kind()` predicate names it: `proc-macro` for a proc-macro
    /// library's unit tests, otherwise the kind's name.
    pub filter_kind: &'static str,
    /// The target's name (the crate name for libraries, before `-` becomes `_`).
    pub target_name: String,
    /// The package it belongs to.
    pub package: Arc<PackageInfo>,
    /// The package's build-script output, if it has a build script.
    pub build_script: Option<BuildScriptOutput>,
    /// For doctests, which are not a binary but run by `cargo test --doc`: the source
    /// file whose doctests this unit holds, and cargo's arguments.
    pub doc: Option<DocUnit>,
}

/// The doctests of a library (or, split, of part of it), run together by one
/// `cargo test --doc`.
///
/// rustdoc splits its test arguments at whitespace, and doctest names hold spaces
/// (`src/lib.rs - add (line 5)`), so no name can be passed as an exact filter; a
/// file's path, which has none, can select part of a package.
#[derive(Debug, Clone)]
pub struct DocUnit {
    /// libtest's name filters, none with whitespace (rustdoc would split it): a
    /// source file, as the doctest names start, or the item paths of a part of a
    /// file; none for all of the package's doctests at once (merged doctests, which
    /// rustdoc compiles as one program).
    pub filters: Vec<String>,
    /// `--skip` patterns: the item paths of a file's doctests that other units run.
    pub skip: Vec<String>,
    /// `cargo test --doc`'s arguments before `--`.
    pub cargo_args: Arc<[std::ffi::OsString]>,
    /// libtest's `--test-threads` for the unit: 1 runs its doctests one after
    /// another, each start printed as it happens; more run that many at once, and
    /// libtest prints each result only when it ends (see `execute/doctest_unit.rs`).
    pub threads: usize,
    /// Every doctest name of the package, sorted as libtest sorts them: with more
    /// than one thread, the order tells which doctest starts when a slot frees.
    pub names: Arc<[String]>,
}

impl TestBinary {
    /// The profile's output directory (`target/debug`): test binaries live in its
    /// `deps` directory, and examples in its `examples` directory.
    pub fn profile_dir(&self) -> Option<&Path> {
        self.path.parent().and_then(Path::parent)
    }

    /// `CARGO_BIN_EXE_<name>` values: where cargo puts the package's binaries, beside
    /// the `deps` directory that holds the test binary. They are computed rather than
    /// read from cargo's messages, because cargo reports fresh artifacts in any order.
    pub fn bin_exes(&self) -> Vec<(String, PathBuf)> {
        let Some(profile_dir) = self.profile_dir() else {
            return Vec::new();
        };
        self.package
            .bin_targets
            .iter()
            .map(|name| (name.clone(), profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX))))
            .collect()
    }
}

/// Something that happened during the build.
#[derive(Debug)]
pub enum BuildEvent {
    /// Cargo compiled something rather than finding it fresh: the build is real work,
    /// not a no-op check, so tests are worth starting before it ends.
    Compiling,
    /// A test binary was linked.
    Binary(Arc<TestBinary>),
    /// A dynamic library (a `dylib` or `cdylib` target) was linked: test binaries may
    /// load it at run time, so an archive must hold it.
    DynamicLibrary(PathBuf),
}

/// A `cargo test --no-run` that has started and whose messages are not read yet.
///
/// Starting the build before `cargo metadata` has answered lets the two overlap; on a
/// warm workspace each takes tens of milliseconds. Dropped unread, it ends the build.
pub struct StartedBuild {
    child: std::process::Child,
    /// The thread that hands cargo's stderr on, when it is not inherited.
    stderr: Option<std::thread::JoinHandle<()>>,
}

/// Receives cargo's stderr a line at a time.
pub type LineSink = Box<dyn FnMut(&[u8]) + Send>;

/// Where cargo's stderr goes instead of tempo's own, while a progress bar is drawn
/// there: a line written straight to the terminal would land in the middle of it.
pub struct StderrForward {
    /// Called with each line cargo writes (newline included), on a thread of its own.
    pub sink: LineSink,
    /// Whether cargo should colour its output, which it will not do into a pipe by
    /// itself. A `CARGO_TERM_COLOR` already set is left alone.
    pub color: bool,
}

impl StartedBuild {
    /// Starts `cargo test --no-run` with the user's cargo arguments.
    pub fn start(opts: &CargoOptions) -> Result<StartedBuild> {
        StartedBuild::start_forwarding(opts, None)
    }

    /// Starts the build with its stderr handed to `forward` instead of inherited.
    pub fn start_forwarding(opts: &CargoOptions, forward: Option<StderrForward>) -> Result<StartedBuild> {
        let program = cargo_program();
        let mut cmd = Command::new(&program);
        cmd.args(["test", "--no-run", "--message-format", "json-render-diagnostics"])
            .args(&opts.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(if forward.is_some() { Stdio::piped() } else { Stdio::inherit() });
        if let Some(forward) = &forward {
            if forward.color && std::env::var_os("CARGO_TERM_COLOR").is_none() {
                cmd.env("CARGO_TERM_COLOR", "always");
            }
            // Cargo's own bar would fight tempo's; piped, cargo leaves it out anyway,
            // unless the user forced it on.
            cmd.env("CARGO_TERM_PROGRESS_WHEN", "never");
        }
        let mut child = cmd
            .spawn()
            .map_err(|source| Error::CargoNotFound { program: program.to_string_lossy().into_owned(), source })?;
        let stderr = forward.map(|mut forward| {
            let pipe = child.stderr.take().expect("stderr is piped");
            std::thread::spawn(move || {
                let mut reader = BufReader::new(pipe);
                let mut line = Vec::new();
                while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                    (forward.sink)(&line);
                    line.clear();
                }
            })
        });
        Ok(StartedBuild { child, stderr })
    }

    /// Waits for the thread that forwards cargo's stderr, which ends when cargo does.
    fn join_stderr(&mut self) {
        if let Some(thread) = self.stderr.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for StartedBuild {
    fn drop(&mut self) {
        // Unread (setup failed) or read to the end: either way nothing more is wanted.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        self.join_stderr();
    }
}

/// Runs `cargo test --no-run` and calls `on_event` for each test binary as cargo links it.
///
/// Compiler diagnostics are rendered by cargo onto tempo's stderr, as cargo shows them.
/// Returns once cargo has exited; a failed build is [`Error::BuildFailed`].
pub fn build(opts: &CargoOptions, workspace: &Workspace, on_event: impl FnMut(BuildEvent)) -> Result<()> {
    read_build(StartedBuild::start(opts)?, workspace, on_event)
}

// About 90 lines: one loop over cargo's messages whose arms share the binaries held
// back for their build script's output; split, that state would travel through each.
/// Reads a started build's messages to the end, calling `on_event` for each test
/// binary as cargo links it; see [`build`].
pub fn read_build(
    mut started: StartedBuild,
    workspace: &Workspace,
    mut on_event: impl FnMut(BuildEvent),
) -> Result<()> {
    let stdout = started.child.stdout.take().expect("stdout is piped");

    let mut scripts: HashMap<PackageId, BuildScriptOutput> = HashMap::new();
    // Test binaries whose package's build-script output has not been reported yet:
    // cargo reports fresh units in any order, so a test binary may arrive first.
    let mut waiting: HashMap<PackageId, Vec<TestBinary>> = HashMap::new();
    let mut compiling = false;
    for message in Message::parse_stream(BufReader::new(stdout)) {
        match message.map_err(Error::BuildMessages)? {
            Message::BuildScriptExecuted(script) => {
                let output = BuildScriptOutput {
                    out_dir: Some(script.out_dir.into_std_path_buf()),
                    env: script.env,
                    linked_paths: script
                        .linked_paths
                        .iter()
                        .map(|p| {
                            // Entries look like `native=/path` or just `/path`.
                            let s = p.as_str();
                            PathBuf::from(s.split_once('=').map_or(s, |(_, path)| path))
                        })
                        .collect(),
                };
                for mut binary in waiting.remove(&script.package_id).unwrap_or_default() {
                    binary.build_script = Some(output.clone());
                    on_event(BuildEvent::Binary(Arc::new(binary)));
                }
                scripts.insert(script.package_id, output);
            }
            Message::CompilerArtifact(artifact) => {
                if !artifact.fresh && !compiling {
                    compiling = true;
                    on_event(BuildEvent::Compiling);
                }
                if artifact.target.kind.iter().any(|k| matches!(k.to_string().as_str(), "dylib" | "cdylib")) {
                    for file in &artifact.filenames {
                        if file.as_str().ends_with(std::env::consts::DLL_SUFFIX) {
                            on_event(BuildEvent::DynamicLibrary(file.clone().into_std_path_buf()));
                        }
                    }
                }
                let Some(executable) = artifact.executable else {
                    continue;
                };
                let kind =
                    TargetKind::from_cargo(&artifact.target.kind.iter().map(|k| k.to_string()).collect::<Vec<_>>());
                if !artifact.profile.test {
                    continue;
                }
                let Some(package) = workspace.packages.get(&artifact.package_id) else {
                    continue;
                };
                let is_proc_macro = artifact.target.kind.iter().any(|k| k.to_string() == "proc-macro");
                let binary = TestBinary {
                    id: BinaryId::new(&package.name, kind, &artifact.target.name),
                    path: executable.into_std_path_buf(),
                    kind,
                    filter_kind: if is_proc_macro { "proc-macro" } else { kind.as_str() },
                    target_name: artifact.target.name.clone(),
                    package: Arc::clone(package),
                    build_script: scripts.get(&artifact.package_id).cloned(),
                    doc: None,
                };
                if package.has_build_script && binary.build_script.is_none() {
                    waiting.entry(artifact.package_id).or_default().push(binary);
                } else {
                    crate::phase::mark("binary reported");
                    on_event(BuildEvent::Binary(Arc::new(binary)));
                }
            }
            _ => {}
        }
    }
    // A build script that reported nothing (it can't happen with cargo today) must not
    // lose its package's tests.
    for binary in waiting.into_values().flatten() {
        on_event(BuildEvent::Binary(Arc::new(binary)));
    }
    let status = started.child.wait().map_err(Error::BuildMessages)?;
    crate::phase::mark("cargo test --no-run done");
    // Cargo's last words (`Finished ...`, or why it failed) come before tempo's.
    started.join_stderr();
    if !status.success() {
        return Err(Error::BuildFailed { status: status.to_string() });
    }
    Ok(())
}

/// The package dependency graph (package name to the names of its direct
/// dependencies, external crates included), for `deps()` and `rdeps()`. Only read when
/// a filter needs it, since resolving the whole graph costs a full `cargo metadata`.
pub fn dependency_graph(opts: &CargoOptions) -> Result<HashMap<String, Vec<String>>> {
    let mut cmd = MetadataCommand::new();
    cmd.cargo_path(cargo_program());
    if let Some(path) = &opts.manifest_path {
        cmd.manifest_path(path);
    }
    let metadata = cmd.exec().map_err(|e| Error::Metadata(e.to_string()))?;
    let names: HashMap<&PackageId, &str> = metadata.packages.iter().map(|p| (&p.id, p.name.as_str())).collect();
    let mut graph: HashMap<String, Vec<String>> = HashMap::new();
    if let Some(resolve) = &metadata.resolve {
        for node in &resolve.nodes {
            let Some(name) = names.get(&node.id) else { continue };
            let deps = graph.entry((*name).to_owned()).or_default();
            deps.extend(node.deps.iter().filter_map(|d| names.get(&d.pkg)).map(|n| (*n).to_owned()));
        }
    }
    Ok(graph)
}

/// How `cargo test --no-run` is invoked.
#[derive(Debug, Clone, Default)]
pub struct CargoOptions {
    /// The arguments that pass through to cargo, already rendered.
    pub args: Vec<OsString>,
    /// `--manifest-path`, also used for `cargo metadata`.
    pub manifest_path: Option<PathBuf>,
    /// `--target-dir`, also used for `cargo metadata`.
    pub target_dir: Option<PathBuf>,
    /// The arguments for `cargo test --doc`: the same build settings (features,
    /// profile, manifest, target directory, lock flags) without package or target
    /// selection, which `--doc` does not mix with.
    pub doc_args: Vec<OsString>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspace_root_is_guessed_from_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("Cargo.toml"), "[workspace]\nmembers = [\"a\"]\n").unwrap();
        std::fs::create_dir_all(root.join("a/src")).unwrap();
        std::fs::write(root.join("a/Cargo.toml"), "[package]\nname = \"a\"\n").unwrap();
        let guess = guess_workspace_root(Some(&root.join("a/Cargo.toml"))).unwrap();
        assert_eq!(guess.canonicalize().unwrap(), root.canonicalize().unwrap(), "the member's workspace");
        let lone = tempfile::tempdir().unwrap();
        std::fs::write(lone.path().join("Cargo.toml"), "[package]\nname = \"b\"\n").unwrap();
        let guess = guess_workspace_root(Some(&lone.path().join("Cargo.toml"))).unwrap();
        assert_eq!(guess.canonicalize().unwrap(), lone.path().canonicalize().unwrap(), "a package on its own");
    }
}
