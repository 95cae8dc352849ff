//! Lets CI build the tests once and run them on many machines: `cargo tempo archive`
//! packs what cargo built, and `run --archive-file` (or `list`) runs it elsewhere with
//! no cargo build.
//!
//! Like nextest's archives, an archive holds build outputs only: the test binaries,
//! the binaries their `CARGO_BIN_EXE_<name>` variables name, each build script's
//! `OUT_DIR`, the link-search directories build scripts named inside the target
//! directory, and the dynamic libraries (`dylib` and `cdylib` targets) that tests may
//! load. Beside them, `tempo-archive.json` records what tempo knows about each binary
//! and package, with paths relative to the target directory and the workspace root.
//! The sources that tests read at run time (their package directory is their working
//! directory) are not packed: `--workspace-remap DIR` names a checkout of the same
//! source on the machine that runs the archive, and every package path is rebuilt
//! under it.
//!
//! The file is a tar stream compressed with zstd (`.tar.zst`), written through a
//! temporary file and a rename so that a failed archive never leaves half a file.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::build::{self, BuildEvent, BuildScriptOutput, PackageInfo, TestBinary, Workspace};
use crate::error::{Result, exit_code};
use crate::options::{ArchiveOptions, ArchiveSource};
use crate::test_id::{BinaryId, TargetKind};

/// The version of the archive's layout and metadata; another version is refused.
pub const FORMAT_VERSION: u32 = 1;
/// The metadata file at the archive's root.
pub const MANIFEST_NAME: &str = "tempo-archive.json";
/// The directory in the archive that stands for the target directory.
const TARGET: &str = "target";

/// What went wrong while making or reading an archive.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The archive file could not be written.
    #[error("failed to write the archive `{}`: {source}", path.display())]
    Write {
        /// The archive.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A build output could not be added.
    #[error("failed to add `{}` to the archive: {source}", path.display())]
    Add {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A build output lies outside the target directory, so no relative path names it.
    #[error(
        "failed to archive `{}`: it is outside the target directory `{}`, and an archive holds only build outputs",
        path.display(),
        target_dir.display()
    )]
    OutsideTarget {
        /// The file.
        path: PathBuf,
        /// The target directory.
        target_dir: PathBuf,
    },
    /// A package lies outside the workspace root, so `--workspace-remap` could not place it.
    #[error(
        "failed to archive package `{name}`: its manifest `{}` is outside the workspace root `{}`, so --workspace-remap could not place it; move the package under the workspace root",
        manifest.display(),
        root.display()
    )]
    OutsideWorkspace {
        /// The package.
        name: String,
        /// Its manifest.
        manifest: PathBuf,
        /// The workspace root.
        root: PathBuf,
    },
    /// The archive could not be opened, decompressed or unpacked.
    #[error("failed to extract the archive `{}` into `{}`: {source}", path.display(), dest.display())]
    Extract {
        /// The archive.
        path: PathBuf,
        /// Where it was being extracted.
        dest: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The archive's metadata is missing or malformed.
    #[error("failed to read the archive `{}`: {reason}; make it with `cargo tempo archive`", path.display())]
    Metadata {
        /// The archive.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The archive was made by a tempo with another layout.
    #[error(
        "failed to read the archive `{}`: it has format version {found}, and this tempo reads version {FORMAT_VERSION}; make it again with this tempo",
        path.display()
    )]
    Version {
        /// The archive.
        path: PathBuf,
        /// Its version.
        found: u32,
    },
    /// The workspace the tests should run in does not exist here.
    #[error(
        "failed to find the workspace the archived tests run in: `{}` is not a directory; pass --workspace-remap DIR with a checkout of the source the archive was built from",
        dir.display()
    )]
    NoWorkspace {
        /// The directory.
        dir: PathBuf,
    },
    /// A package with archived tests is missing from the remapped workspace.
    #[error(
        "failed to find package `{name}` in the workspace: `{}` does not exist; --workspace-remap must point at a checkout of the source the archive was built from",
        dir.display()
    )]
    MissingPackage {
        /// The package.
        name: String,
        /// The directory it should be in.
        dir: PathBuf,
    },
}

impl ArchiveError {
    /// Whether this happened while making an archive (exit 103) rather than while
    /// reading one (a setup error, 96), as nextest tells the two apart.
    pub fn while_creating(&self) -> bool {
        matches!(
            self,
            ArchiveError::Write { .. }
                | ArchiveError::Add { .. }
                | ArchiveError::OutsideTarget { .. }
                | ArchiveError::OutsideWorkspace { .. }
        )
    }
}

/// `tempo-archive.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format_version: u32,
    /// Where the workspace was when the archive was made: the default for
    /// `--workspace-remap`, and the prefix rewritten in build-script variables.
    workspace_root: PathBuf,
    /// The target directory then, likewise.
    target_dir: PathBuf,
    /// Every workspace package, by cargo's package id.
    packages: BTreeMap<String, ArchivedPackage>,
    binaries: Vec<ArchivedBinary>,
    /// Package name → direct dependencies, for `deps()` and `rdeps()`.
    dependency_graph: BTreeMap<String, Vec<String>>,
}

/// Only the format version, read first so that a newer layout gets a clear message.
#[derive(Deserialize)]
struct VersionOnly {
    format_version: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct ArchivedPackage {
    name: String,
    version: String,
    /// Relative to the workspace root.
    manifest_path: PathBuf,
    authors: Vec<String>,
    description: Option<String>,
    homepage: Option<String>,
    repository: Option<String>,
    license: Option<String>,
    license_file: Option<String>,
    rust_version: Option<String>,
    readme: Option<String>,
    bin_targets: Vec<String>,
    has_build_script: bool,
    has_doctests: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct ArchivedBinary {
    id: String,
    /// Relative to the target directory.
    path: PathBuf,
    kind: String,
    proc_macro: bool,
    target_name: String,
    package_id: String,
    build_script: Option<ArchivedScript>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ArchivedScript {
    /// Relative to the target directory.
    out_dir: Option<PathBuf>,
    env: Vec<(String, String)>,
    /// Link-search directories inside the target directory, relative to it (packed).
    linked_in_target: Vec<PathBuf>,
    /// Link-search directories elsewhere (system libraries), kept as they are.
    linked_elsewhere: Vec<PathBuf>,
}

fn relative(path: &Path, target_dir: &Path) -> Result<PathBuf, ArchiveError> {
    path.strip_prefix(target_dir)
        .map(Path::to_path_buf)
        .map_err(|_| ArchiveError::OutsideTarget { path: path.to_owned(), target_dir: target_dir.to_owned() })
}

impl Manifest {
    fn new(
        workspace: &Workspace,
        binaries: &[Arc<TestBinary>],
        dependency_graph: HashMap<String, Vec<String>>,
    ) -> Result<Manifest, ArchiveError> {
        let mut packages = BTreeMap::new();
        for (id, p) in &workspace.packages {
            let manifest_path =
                p.manifest_path.strip_prefix(&workspace.root).map_err(|_| ArchiveError::OutsideWorkspace {
                    name: p.name.clone(),
                    manifest: p.manifest_path.clone(),
                    root: workspace.root.clone(),
                })?;
            packages.insert(
                id.repr.clone(),
                ArchivedPackage {
                    name: p.name.clone(),
                    version: p.version.to_string(),
                    manifest_path: manifest_path.to_owned(),
                    authors: p.authors.clone(),
                    description: p.description.clone(),
                    homepage: p.homepage.clone(),
                    repository: p.repository.clone(),
                    license: p.license.clone(),
                    license_file: p.license_file.clone(),
                    rust_version: p.rust_version.clone(),
                    readme: p.readme.clone(),
                    bin_targets: p.bin_targets.clone(),
                    has_build_script: p.has_build_script,
                    has_doctests: p.has_doctests,
                },
            );
        }
        let package_ids: HashMap<*const PackageInfo, &str> =
            workspace.packages.iter().map(|(id, p)| (Arc::as_ptr(p), id.repr.as_str())).collect();
        let target = &workspace.target_dir;
        let mut archived = Vec::new();
        for b in binaries {
            let build_script = match &b.build_script {
                Some(s) => {
                    let (inside, outside): (Vec<&PathBuf>, Vec<&PathBuf>) =
                        s.linked_paths.iter().partition(|p| p.starts_with(target));
                    Some(ArchivedScript {
                        out_dir: s.out_dir.as_deref().map(|d| relative(d, target)).transpose()?,
                        env: s.env.clone(),
                        linked_in_target: inside.into_iter().map(|p| relative(p, target)).collect::<Result<_, _>>()?,
                        linked_elsewhere: outside.into_iter().cloned().collect(),
                    })
                }
                None => None,
            };
            archived.push(ArchivedBinary {
                id: b.id.to_string(),
                path: relative(&b.path, target)?,
                kind: b.kind.as_str().to_owned(),
                proc_macro: b.filter_kind == "proc-macro",
                target_name: b.target_name.clone(),
                package_id: package_ids.get(&Arc::as_ptr(&b.package)).map_or_else(String::new, |s| (*s).to_owned()),
                build_script,
            });
        }
        archived.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Manifest {
            format_version: FORMAT_VERSION,
            workspace_root: workspace.root.clone(),
            target_dir: target.clone(),
            packages,
            binaries: archived,
            dependency_graph: dependency_graph.into_iter().collect(),
        })
    }

    /// The files (and whole directories) to pack, relative to the target directory.
    fn contents(&self, binaries: &[Arc<TestBinary>], dylibs: &[PathBuf]) -> (BTreeSet<PathBuf>, BTreeSet<PathBuf>) {
        let target = &self.target_dir;
        let mut files = BTreeSet::new();
        let mut dirs = BTreeSet::new();
        for b in &self.binaries {
            files.insert(b.path.clone());
            if let Some(script) = &b.build_script {
                dirs.extend(script.out_dir.iter().cloned());
                dirs.extend(script.linked_in_target.iter().cloned());
            }
        }
        // The package's binaries, for CARGO_BIN_EXE_<name>: cargo builds them for its
        // integration tests. A binary that was not built (no integration test asked
        // for it) is not there to pack.
        for b in binaries {
            for (_, exe) in b.bin_exes() {
                if exe.is_file()
                    && let Ok(rel) = exe.strip_prefix(target)
                {
                    files.insert(rel.to_owned());
                }
            }
        }
        for lib in dylibs {
            if lib.is_file()
                && let Ok(rel) = lib.strip_prefix(target)
            {
                files.insert(rel.to_owned());
            }
        }
        dirs.retain(|d| target.join(d).is_dir());
        (files, dirs)
    }
}

/// `cargo tempo archive`: builds every test binary and packs it with what it needs.
pub fn create(opts: ArchiveOptions) -> Result<i32> {
    let workspace = build::workspace(&opts.cargo)?;
    let mut binaries = Vec::new();
    let mut dylibs = Vec::new();
    build::build(&opts.cargo, &workspace, |event| match event {
        BuildEvent::Binary(b) => binaries.push(b),
        BuildEvent::DynamicLibrary(path) => dylibs.push(path),
        BuildEvent::Compiling => {}
    })?;
    let graph = build::dependency_graph(&opts.cargo)?;
    let manifest = Manifest::new(&workspace, &binaries, graph)?;
    let (files, dirs) = manifest.contents(&binaries, &dylibs);
    write(&opts.archive_file, opts.zstd_level, &manifest, &files, &dirs)?;
    let size = std::fs::metadata(&opts.archive_file).map_or(0, |m| m.len());
    eprintln!(
        "archived {} test binaries and {} other build outputs into {} ({:.1} MiB)",
        manifest.binaries.len(),
        files.len() + dirs.len() - manifest.binaries.len(),
        opts.archive_file.display(),
        size as f64 / (1024.0 * 1024.0)
    );
    Ok(exit_code::OK)
}

fn write(
    path: &Path,
    level: i32,
    manifest: &Manifest,
    files: &BTreeSet<PathBuf>,
    dirs: &BTreeSet<PathBuf>,
) -> Result<(), ArchiveError> {
    let write_err = |source: io::Error| ArchiveError::Write { path: path.to_owned(), source };
    // A fresh temporary file (see `temp_beside`), removed when `tmp` is dropped unless
    // it was persisted.
    let (file, tmp) = crate::report::temp_beside(path).map_err(write_err)?.into_parts();
    let encoder = zstd::Encoder::new(BufWriter::new(file), level).map_err(write_err)?;
    let mut tar = tar::Builder::new(encoder);
    let json = serde_json::to_vec_pretty(manifest).map_err(|e| write_err(io::Error::other(e)))?;
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()));
    header.set_cksum();
    tar.append_data(&mut header, MANIFEST_NAME, json.as_slice()).map_err(write_err)?;
    let target = &manifest.target_dir;
    for rel in files {
        let from = target.join(rel);
        tar.append_path_with_name(&from, Path::new(TARGET).join(rel))
            .map_err(|source| ArchiveError::Add { path: from, source })?;
    }
    for rel in dirs {
        let from = target.join(rel);
        tar.append_dir_all(Path::new(TARGET).join(rel), &from)
            .map_err(|source| ArchiveError::Add { path: from, source })?;
    }
    let encoder = tar.into_inner().map_err(write_err)?;
    let mut out = encoder.finish().map_err(write_err)?;
    out.flush().map_err(write_err)?;
    out.into_inner().map_err(|e| write_err(e.into_error()))?.sync_all().map_err(write_err)?;
    tmp.persist(path).map_err(|e| write_err(e.error))
}

/// Keeps an archive's extracted files while its tests run; a temporary directory is
/// removed when this is dropped, a directory given with `--extract-to` is kept.
#[derive(Debug)]
pub struct ExtractGuard {
    _temp: Option<tempfile::TempDir>,
}

/// An archive extracted and read: what the pipeline would otherwise learn from
/// `cargo metadata` and the build.
#[derive(Debug)]
pub struct Opened {
    /// Keeps the extracted files.
    pub guard: ExtractGuard,
    /// The remapped workspace, whose target directory is the extracted one.
    pub workspace: Workspace,
    /// Every archived test binary, at its extracted path.
    pub binaries: Vec<Arc<TestBinary>>,
    /// The package dependency graph recorded when the archive was made.
    pub dependency_graph: HashMap<String, Vec<String>>,
}

/// Rewrites a path recorded when the archive was made: under the old target
/// directory it moves to the extracted one, under the old workspace root to the
/// remapped one, and anything else stays.
struct Remap {
    old_target: PathBuf,
    new_target: PathBuf,
    old_root: PathBuf,
    new_root: PathBuf,
}

impl Remap {
    fn value(&self, value: &str) -> String {
        // The target directory first: it usually lies inside the workspace root.
        for (old, new) in [(&self.old_target, &self.new_target), (&self.old_root, &self.new_root)] {
            if let Ok(rest) = Path::new(value).strip_prefix(old) {
                return new.join(rest).to_string_lossy().into_owned();
            }
        }
        value.to_owned()
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// Extracts an archive and rebuilds its binaries and packages for this machine.
pub fn open(source: &ArchiveSource) -> Result<Opened, ArchiveError> {
    let (dest, temp) = match &source.extract_to {
        Some(dir) => (absolute(dir), None),
        None => {
            let temp = tempfile::Builder::new().prefix("tempo-archive-").tempdir().map_err(|e| {
                ArchiveError::Extract { path: source.file.clone(), dest: std::env::temp_dir(), source: e }
            })?;
            (temp.path().to_owned(), Some(temp))
        }
    };
    let extract_err = |e: io::Error| ArchiveError::Extract { path: source.file.clone(), dest: dest.clone(), source: e };
    std::fs::create_dir_all(&dest).map_err(extract_err)?;
    let file = File::open(&source.file).map_err(extract_err)?;
    let decoder = zstd::Decoder::new(BufReader::new(file)).map_err(extract_err)?;
    let mut tar = tar::Archive::new(decoder);
    tar.set_preserve_permissions(true);
    tar.set_overwrite(true);
    // `unpack` refuses entries that would land outside `dest` (`..`, absolute paths).
    tar.unpack(&dest).map_err(extract_err)?;

    let meta_err = |reason: String| ArchiveError::Metadata { path: source.file.clone(), reason };
    let text =
        std::fs::read(dest.join(MANIFEST_NAME)).map_err(|e| meta_err(format!("no {MANIFEST_NAME} in it ({e})")))?;
    let version: VersionOnly = serde_json::from_slice(&text).map_err(|e| meta_err(format!("{MANIFEST_NAME}: {e}")))?;
    if version.format_version != FORMAT_VERSION {
        return Err(ArchiveError::Version { path: source.file.clone(), found: version.format_version });
    }
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| meta_err(format!("{MANIFEST_NAME}: {e}")))?;

    let root = absolute(source.workspace_remap.as_deref().unwrap_or(&manifest.workspace_root));
    if !root.is_dir() {
        return Err(ArchiveError::NoWorkspace { dir: root });
    }
    let remap = Remap {
        old_target: manifest.target_dir.clone(),
        new_target: dest.join(TARGET),
        old_root: manifest.workspace_root.clone(),
        new_root: root.clone(),
    };
    let mut packages: HashMap<cargo_metadata::PackageId, Arc<PackageInfo>> = HashMap::new();
    for (id, p) in manifest.packages {
        let version = p
            .version
            .parse()
            .map_err(|e| meta_err(format!("package `{}` has version `{}`: {e}", p.name, p.version)))?;
        let info = PackageInfo {
            name: p.name,
            version,
            manifest_path: root.join(&p.manifest_path),
            authors: p.authors,
            description: p.description,
            homepage: p.homepage,
            repository: p.repository,
            license: p.license,
            license_file: p.license_file,
            rust_version: p.rust_version,
            readme: p.readme,
            bin_targets: p.bin_targets,
            has_build_script: p.has_build_script,
            has_doctests: p.has_doctests,
        };
        packages.insert(cargo_metadata::PackageId { repr: id }, Arc::new(info));
    }
    let mut binaries = Vec::new();
    for b in manifest.binaries {
        let package = packages
            .get(&cargo_metadata::PackageId { repr: b.package_id.clone() })
            .ok_or_else(|| meta_err(format!("binary `{}` belongs to no package in the archive", b.id)))?;
        if !package.root().is_dir() {
            return Err(ArchiveError::MissingPackage { name: package.name.clone(), dir: package.root().to_owned() });
        }
        let kind = [TargetKind::Lib, TargetKind::Bin, TargetKind::Test, TargetKind::Example, TargetKind::Bench]
            .into_iter()
            .find(|k| k.as_str() == b.kind)
            .ok_or_else(|| meta_err(format!("binary `{}` has unknown kind `{}`", b.id, b.kind)))?;
        let build_script = b.build_script.map(|s| BuildScriptOutput {
            out_dir: s.out_dir.map(|d| remap.new_target.join(d)),
            env: s.env.into_iter().map(|(k, v)| (k, remap.value(&v))).collect(),
            linked_paths: s
                .linked_in_target
                .into_iter()
                .map(|p| remap.new_target.join(p))
                .chain(s.linked_elsewhere)
                .collect(),
        });
        binaries.push(Arc::new(TestBinary {
            id: BinaryId::from_raw(&b.id),
            path: remap.new_target.join(&b.path),
            kind,
            filter_kind: if b.proc_macro { "proc-macro" } else { kind.as_str() },
            target_name: b.target_name,
            package: Arc::clone(package),
            build_script,
            doc: None,
        }));
    }
    let workspace = Workspace { root, target_dir: remap.new_target.clone(), packages };
    Ok(Opened {
        guard: ExtractGuard { _temp: temp },
        workspace,
        binaries,
        dependency_graph: manifest.dependency_graph.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_paths_move_to_the_extracted_target_and_the_remapped_root() {
        let remap = Remap {
            old_target: "/build/ws/target".into(),
            new_target: "/tmp/x/target".into(),
            old_root: "/build/ws".into(),
            new_root: "/ci/checkout".into(),
        };
        assert_eq!(remap.value("/build/ws/target/debug/build/g-1/out"), "/tmp/x/target/debug/build/g-1/out");
        assert_eq!(remap.value("/build/ws/gamma/data"), "/ci/checkout/gamma/data");
        assert_eq!(remap.value("hello-from-build-script"), "hello-from-build-script");
        // A prefix of a path component is not a parent directory.
        assert_eq!(remap.value("/build/wsx/file"), "/build/wsx/file");
    }

    #[test]
    fn creation_errors_are_told_from_reading_errors() {
        let add = ArchiveError::Add { path: "x".into(), source: io::Error::other("boom") };
        assert!(add.while_creating());
        assert!(!ArchiveError::NoWorkspace { dir: "/nowhere".into() }.while_creating());
    }
}
