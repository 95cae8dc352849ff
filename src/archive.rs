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
//! The file is a tar stream compressed with zstd (`.tar.zst`) in one frame with a
//! content checksum, written through a temporary file and a rename so that a failed
//! archive never leaves half a file. The manifest comes first and records the size
//! and xxh64 digest of every file after it; `extract` reads an archive as untrusted
//! input and checks all of it.

mod extract;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::build::{self, BuildEvent, BuildScriptOutput, PackageInfo, TestBinary, Workspace};
use crate::error::{ArchiveError, Result};
use crate::test_id::{BinaryId, TargetKind};

/// The version of the archive's layout and metadata; another version is refused.
/// Version 2 added the content checksum and the manifest's `files` digests.
pub const FORMAT_VERSION: u32 = 2;
/// The metadata file at the archive's root.
pub const MANIFEST_NAME: &str = "tempo-archive.json";
/// The directory in the archive that stands for the target directory.
const TARGET: &str = "target";

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
    /// Every file after the manifest, by its path in the archive (`target/...`, with
    /// `/` separators): extraction refuses any other, and checks each one.
    files: BTreeMap<String, ArchivedFile>,
}

/// What the manifest records of one file in the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ArchivedFile {
    /// A regular file: its size and its xxh64 digest (16 hex digits). xxh64 detects
    /// damage, not tampering.
    File { size: u64, xxh64: String },
    /// A symlink, allowed only when it resolves inside the extracted directory.
    /// `cargo tempo archive` follows symlinks and writes none; the reader accepts
    /// them so that the format can.
    Symlink { target: String },
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
            files: BTreeMap::new(),
        })
    }

    /// Refuses a manifest whose paths could point outside the extracted directory or
    /// the workspace (an absolute binary path would run whatever it names), and a
    /// binary that the archive does not hold.
    fn check_paths(&self, archive: &Path) -> Result<(), ArchiveError> {
        let bad = |reason: String| ArchiveError::BadEntry {
            path: archive.to_owned(),
            entry: MANIFEST_NAME.to_owned(),
            reason,
        };
        let check = |what: &str, path: &Path| -> Result<PathBuf, ArchiveError> {
            let text = path.to_str().ok_or_else(|| bad(format!("{what}: the path is not UTF-8")))?;
            extract::safe_relative(text).map_err(|reason| bad(format!("{what}: {reason}")))
        };
        for key in self.files.keys() {
            let rel = check("a file it lists", Path::new(key))?;
            if extract::key_of(&rel) != *key || key == MANIFEST_NAME {
                return Err(bad(format!("it lists `{key}`, which is not a plain path of a file in the archive")));
            }
        }
        for p in self.packages.values() {
            check(&format!("package `{}`", p.name), &p.manifest_path)?;
        }
        for b in &self.binaries {
            let what = format!("binary `{}`", b.id);
            let rel = check(&what, &b.path)?;
            let key = extract::key_of(&Path::new(TARGET).join(rel));
            if !matches!(self.files.get(&key), Some(ArchivedFile::File { .. })) {
                return Err(bad(format!("{what}: `{key}` is not a file in the archive")));
            }
            if let Some(script) = &b.build_script {
                for dir in script.out_dir.iter().chain(&script.linked_in_target) {
                    check(&format!("{what}'s build script output"), dir)?;
                }
            }
        }
        Ok(())
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

/// Builds every test binary and packs it with what it needs (`cargo tempo archive`).
pub fn create(opts: &ArchiveOptions) -> Result<Created> {
    let workspace = build::workspace(&opts.cargo)?;
    let mut binaries = Vec::new();
    let mut dylibs = Vec::new();
    build::build(&opts.cargo, &workspace, |event| match event {
        BuildEvent::Binary(b) => binaries.push(b),
        BuildEvent::DynamicLibrary(path) => dylibs.push(path),
        BuildEvent::Compiling => {}
    })?;
    let graph = build::dependency_graph(&opts.cargo)?;
    let mut manifest = Manifest::new(&workspace, &binaries, graph)?;
    let (files, dirs) = manifest.contents(&binaries, &dylibs);
    let entries = collect(&manifest.target_dir, &files, &dirs)?;
    manifest.files = digests(&entries)?;
    write(&opts.archive_file, opts.zstd_level, &manifest, &entries)?;
    Ok(Created { binaries: manifest.binaries.len(), others: files.len() + dirs.len() - manifest.binaries.len() })
}

/// What [`create`] packed.
#[derive(Debug, Clone, Copy)]
pub struct Created {
    /// The test binaries.
    pub binaries: usize,
    /// The other build outputs: files and directories.
    pub others: usize,
}

/// One entry to pack after the manifest.
enum Source {
    Dir,
    File(PathBuf),
}

/// Every entry to pack, by its name in the archive: the files, and the directories
/// walked (symlinks followed, as `tar` did before) with all they hold.
fn collect(
    target: &Path,
    files: &BTreeSet<PathBuf>,
    dirs: &BTreeSet<PathBuf>,
) -> Result<BTreeMap<String, Source>, ArchiveError> {
    let name_of = |from: &Path, rel: &Path| -> Result<String, ArchiveError> {
        let name = Path::new(TARGET).join(rel);
        match name.to_str() {
            Some(_) => Ok(extract::key_of(&name)),
            None => Err(ArchiveError::Add {
                path: from.to_owned(),
                source: io::Error::other("its path is not UTF-8, and an archive holds UTF-8 paths only"),
            }),
        }
    };
    let mut out = BTreeMap::new();
    for rel in files {
        let from = target.join(rel);
        out.insert(name_of(&from, rel)?, Source::File(from));
    }
    for rel in dirs {
        let from = target.join(rel);
        walk(&from, &name_of(&from, rel)?, 0, &mut out)?;
    }
    Ok(out)
}

fn walk(dir: &Path, name: &str, depth: usize, out: &mut BTreeMap<String, Source>) -> Result<(), ArchiveError> {
    let add_err = |path: &Path, source: io::Error| ArchiveError::Add { path: path.to_owned(), source };
    // Symlinks are followed, so a loop would recurse forever.
    if depth > 64 {
        return Err(add_err(dir, io::Error::other("directories nest more than 64 deep; is there a symlink loop?")));
    }
    out.insert(name.to_owned(), Source::Dir);
    let mut children = std::fs::read_dir(dir)
        .and_then(|entries| entries.collect::<io::Result<Vec<_>>>())
        .map_err(|e| add_err(dir, e))?;
    children.sort_by_key(std::fs::DirEntry::file_name);
    for child in children {
        let path = child.path();
        let Some(file_name) = child.file_name().to_str().map(str::to_owned) else {
            return Err(add_err(
                &path,
                io::Error::other("its name is not UTF-8, and an archive holds UTF-8 paths only"),
            ));
        };
        let child_name = format!("{name}/{file_name}");
        let meta = std::fs::metadata(&path).map_err(|e| add_err(&path, e))?;
        if meta.is_dir() {
            walk(&path, &child_name, depth + 1, out)?;
        } else if meta.is_file() {
            out.insert(child_name, Source::File(path));
        }
        // Sockets and pipes are no build output a test could read.
    }
    Ok(())
}

/// The manifest's `files`: each file's size and digest, read before packing so that
/// the manifest can come first.
fn digests(entries: &BTreeMap<String, Source>) -> Result<BTreeMap<String, ArchivedFile>, ArchiveError> {
    let mut files = BTreeMap::new();
    for (name, source) in entries {
        if let Source::File(from) = source {
            let (size, xxh64) =
                extract::digest_of(from).map_err(|source| ArchiveError::Add { path: from.clone(), source })?;
            files.insert(name.clone(), ArchivedFile::File { size, xxh64 });
        }
    }
    Ok(files)
}

fn write(path: &Path, level: i32, manifest: &Manifest, entries: &BTreeMap<String, Source>) -> Result<(), ArchiveError> {
    let write_err = |source: io::Error| ArchiveError::Write { path: path.to_owned(), source };
    // A fresh, exclusively created file beside the archive (see `temp_beside`), removed
    // if dropped before `persist`: a failed archive leaves nothing behind.
    let tmp = crate::files::temp_beside(path).map_err(write_err)?;
    let mut encoder = zstd::Encoder::new(BufWriter::new(tmp), level).map_err(write_err)?;
    // Without it, damage to the compressed stream could decompress into other bytes
    // unnoticed.
    encoder.include_checksum(true).map_err(write_err)?;
    let mut tar = tar::Builder::new(encoder);
    let json = serde_json::to_vec_pretty(manifest).map_err(|e| write_err(io::Error::other(e)))?;
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()));
    header.set_cksum();
    tar.append_data(&mut header, MANIFEST_NAME, json.as_slice()).map_err(write_err)?;
    for (name, source) in entries {
        match source {
            Source::Dir => {
                let mut header = tar::Header::new_gnu();
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                header.set_mode(0o755);
                tar.append_data(&mut header, name, io::empty()).map_err(write_err)?;
            }
            Source::File(from) => {
                let expected = &manifest.files[name];
                extract::append_file(&mut tar, name, from, expected)
                    .map_err(|source| ArchiveError::Add { path: from.clone(), source })?;
            }
        }
    }
    let encoder = tar.into_inner().map_err(write_err)?;
    let mut out = encoder.finish().map_err(write_err)?;
    out.flush().map_err(write_err)?;
    let tmp = out.into_inner().map_err(|e| write_err(e.into_error()))?;
    tmp.as_file().sync_all().map_err(write_err)?;
    tmp.persist(path).map_err(|e| write_err(e.error))?;
    Ok(())
}

/// Keeps an archive's extracted files while its tests run; a temporary directory is
/// removed when this is dropped, a directory given with `--extract-to` is kept.
#[derive(Debug)]
pub struct ExtractGuard {
    _temp: Option<tempfile::TempDir>,
}

/// An archive extracted and read: what a session would otherwise learn from
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

/// `--extract-to DIR`: extracts into a fresh directory inside `dest` and moves the
/// files into place only once all of them are verified, so that a damaged archive
/// leaves nothing behind; an existing file is replaced only with `overwrite`.
fn extract_into(
    archive: &Path,
    dest: &Path,
    overwrite: bool,
    read: impl FnOnce(&Path) -> Result<Manifest, ArchiveError>,
) -> Result<Manifest, ArchiveError> {
    let extract_err =
        |e: io::Error| ArchiveError::Extract { path: archive.to_owned(), dest: dest.to_owned(), source: e };
    let created = !dest.exists();
    std::fs::create_dir_all(dest).map_err(extract_err)?;
    let result = (|| {
        let staging = tempfile::Builder::new().prefix(".tempo-extract-").tempdir_in(dest).map_err(extract_err)?;
        let manifest = read(staging.path())?;
        extract::place(archive, staging.path(), dest, overwrite)?;
        Ok(manifest)
    })();
    if result.is_err() && created {
        let _ = std::fs::remove_dir(dest);
    }
    result
}

// One function of about 100 lines on purpose: each step (extract, read the manifest,
// remap the workspace, rebuild the packages, then the binaries that point at them)
// needs what the steps before it made, and read in order it is the whole story.
/// Extracts an archive and rebuilds its binaries and packages for this machine.
pub fn open(source: &ArchiveSource) -> Result<Opened, ArchiveError> {
    let max_size = extract::max_size()?;
    let read = |root: &Path| -> Result<Manifest, ArchiveError> {
        let file = File::open(&source.file).map_err(|e| ArchiveError::Extract {
            path: source.file.clone(),
            dest: root.to_owned(),
            source: e,
        })?;
        extract::unpack(&source.file, BufReader::new(file), root, max_size)
    };
    let (dest, temp, manifest) = match &source.extract_to {
        Some(dir) => {
            let dest = absolute(dir);
            let manifest = extract_into(&source.file, &dest, source.extract_overwrite, read)?;
            (dest, None, manifest)
        }
        None => {
            let temp = tempfile::Builder::new().prefix("tempo-archive-").tempdir().map_err(|e| {
                ArchiveError::Extract { path: source.file.clone(), dest: std::env::temp_dir(), source: e }
            })?;
            let manifest = read(temp.path())?;
            (temp.path().to_owned(), Some(temp), manifest)
        }
    };
    let meta_err = |reason: String| ArchiveError::Metadata { path: source.file.clone(), reason };

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

/// An archive to run instead of a build (`--archive-file`).
#[derive(Debug, Clone)]
pub struct ArchiveSource {
    /// The `.tar.zst` file.
    pub file: PathBuf,
    /// The source checkout the tests run in; `None` means the archived workspace root.
    pub workspace_remap: Option<PathBuf>,
    /// Where to extract it (kept); `None` means a temporary directory.
    pub extract_to: Option<PathBuf>,
    /// Whether extracting into `extract_to` may replace files already there.
    pub extract_overwrite: bool,
}

/// Everything `cargo tempo archive` needs.
#[derive(Debug, Clone)]
pub struct ArchiveOptions {
    /// How to build.
    pub cargo: crate::build::CargoOptions,
    /// Where the archive goes.
    pub archive_file: PathBuf,
    /// The zstd level.
    pub zstd_level: i32,
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
