//! Asks each test binary which tests it holds, the way libtest answers.
//!
//! Each binary is run twice with `--list --format terse`: once for every test and once
//! with `--ignored` to learn which of them are ignored. Binaries are listed in parallel,
//! from the package directory and with the environment they will later run in, because
//! custom harnesses may decide what exists from either. A warm run takes libtest's
//! lists from [`cache`] instead, while each binary is the file it was.
//!
//! Doctests have no binary: rustdoc lists them, through `cargo test --doc -- --list`,
//! and a package's doctests become one unit that runs them, several at a time.

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::Arc;

use rayon::prelude::*;

use std::collections::BTreeMap;
use std::ffi::OsString;

use crate::build::{DocUnit, PackageInfo, TestBinary, cargo_program};
use crate::env::{BinaryEnv, RunEnv};
use crate::error::{Error, Result};
use crate::test_id::{BinaryId, TargetKind};

pub mod cache;

pub use cache::ListCache;

/// One test case as the binary reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCase {
    /// The full libtest name, `module::path::test`.
    pub name: String,
    /// Whether it is `#[ignore]`d.
    pub ignored: bool,
}

/// A binary and the tests it holds, sorted by name.
#[derive(Debug, Clone)]
pub struct ListedBinary {
    /// The binary.
    pub binary: Arc<TestBinary>,
    /// Its environment, computed once for listing and running.
    pub env: Arc<BinaryEnv>,
    /// Its tests.
    pub tests: Vec<TestCase>,
}

/// Parses libtest's `--list --format terse` output: `name: test` lines; benchmarks are not tests.
pub fn parse_terse(stdout: &str) -> std::result::Result<Vec<String>, String> {
    let mut names = Vec::new();
    for line in stdout.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_suffix(": test") {
            names.push(name.to_owned());
        } else if line.ends_with(": benchmark") {
            continue;
        } else {
            return Err(format!("unexpected line in the test list: {}", quote_line(line)));
        }
    }
    Ok(names)
}

/// How many characters of an unexpected list line an error quotes.
const MAX_QUOTED_LINE: usize = 200;

/// Quotes a line for an error, cut to [`MAX_QUOTED_LINE`] characters: a binary
/// that printed one huge line must not make an error message as large.
fn quote_line(line: &str) -> String {
    match line.char_indices().nth(MAX_QUOTED_LINE) {
        None => format!("{line:?}"),
        Some((cut, _)) => format!("{:?}... ({} characters)", &line[..cut], line.chars().count()),
    }
}

/// Parses rustdoc's `--list --format terse` output. Under edition 2024, rustdoc merges
/// a crate's doctests into one program and ends the list with a timing line, `all
/// doctests ran in 0.71s; merged doctests compilation took 0.70s`, which is not a test.
pub fn parse_doctest_list(stdout: &str) -> std::result::Result<Vec<String>, String> {
    let lines: Vec<&str> = stdout.lines().filter(|l| !is_merged_doctests_timing(l)).collect();
    parse_terse(&lines.join("\n"))
}

/// rustdoc's closing line for merged (edition 2024) doctests, in a list or a run.
pub fn is_merged_doctests_timing(line: &str) -> bool {
    line.starts_with("all doctests ran in ") && line.contains("merged doctests compilation took")
}

fn run_list(binary: &TestBinary, env: &BinaryEnv, ignored: bool) -> Result<Vec<String>> {
    let mut cmd = Command::new(&binary.path);
    cmd.args(["--list", "--format", "terse"]);
    if ignored {
        cmd.arg("--ignored");
    }
    cmd.current_dir(binary.package.root()).envs(env.vars.iter().map(|(k, v)| (k, v))).stdin(Stdio::null());
    let fail = |reason: String, stderr: &[u8]| Error::ListFailed {
        binary_id: binary.id.to_string(),
        path: binary.path.clone(),
        reason,
        stderr: String::from_utf8_lossy(stderr).trim_end().to_owned(),
    };
    let out = cmd.output().map_err(|e| fail(format!("could not start it: {e}"), &[]))?;
    if !out.status.success() {
        return Err(fail(format!("it exited with {}", out.status), &out.stderr));
    }
    let stdout =
        std::str::from_utf8(&out.stdout).map_err(|_| fail("its list is not valid UTF-8".into(), &out.stderr))?;
    parse_terse(stdout).map_err(|reason| fail(reason, &out.stderr))
}

/// Lists one binary's tests: from `cache` while the binary is unchanged, else by
/// running it (and then remembering its list there).
pub fn list_binary(binary: Arc<TestBinary>, env: Arc<BinaryEnv>, cache: Option<&ListCache>) -> Result<ListedBinary> {
    let miss = match cache.map(|c| c.get(&binary)) {
        Some(Ok(tests)) => {
            crate::phase::mark(&format!("listed {} (cached)", binary.id));
            return Ok(ListedBinary { binary, env, tests });
        }
        Some(Err(miss)) => Some(miss),
        None => None,
    };
    let (all, ignored) = rayon::join(|| run_list(&binary, &env, false), || run_list(&binary, &env, true));
    let ignored: HashSet<String> = ignored?.into_iter().collect();
    let mut tests: Vec<TestCase> = all?
        .into_iter()
        .map(|name| {
            let ignored = ignored.contains(&name);
            TestCase { name, ignored }
        })
        .collect();
    tests.sort_by(|a, b| a.name.cmp(&b.name));
    if let (Some(cache), Some(miss)) = (cache, miss) {
        cache.store(&binary, miss, &tests);
    }
    crate::phase::mark(&format!("listed {}", binary.id));
    Ok(ListedBinary { binary, env, tests })
}

/// Lists many binaries at once; if several fail, one of their errors is returned.
pub fn list_all(
    binaries: Vec<(Arc<TestBinary>, Arc<BinaryEnv>)>,
    cache: Option<&ListCache>,
) -> Result<Vec<ListedBinary>> {
    binaries.into_par_iter().map(|(b, e)| list_binary(b, e, cache)).collect()
}

/// The libtest flag that makes rustdoc compile no merged program for a doctest list:
/// rustdoc 1.95 treats every doctest as standalone when its test arguments hold it
/// (its output would not be shown from a merged run), and `--list` runs nothing.
pub const LIST_UNMERGED: &str = "--show-output";

/// Lists a library's doctests with `cargo test --doc --package NAME -- --list`
/// (which also builds the library if it is not built), and groups them by source
/// file: one [`ListedBinary`] per file, whose `doc` unit runs them.
pub fn list_doctests(package: Arc<PackageInfo>, doc_args: &[OsString], run_env: &RunEnv) -> Result<Vec<ListedBinary>> {
    let mut cargo_args: Vec<OsString> =
        ["test", "--doc", "--package", package.name.as_str()].map(OsString::from).into();
    cargo_args.extend(doc_args.iter().cloned());
    let cargo_args: Arc<[OsString]> = cargo_args.into();
    let id = BinaryId::new(&package.name, TargetKind::Doctest, "");
    // Splitting a package into units needs to know whether its doctests are merged
    // (a merged package is never split), which only the list's closing timing line
    // tells; that list compiles the merged program. Otherwise the list need not.
    let per_unit = max_doctests_per_unit();
    let list = |ignored: bool| -> Result<(Vec<String>, bool)> {
        let mut cmd = Command::new(cargo_program());
        cmd.args(cargo_args.iter()).args(["--", "--list", "--format", "terse"]);
        if ignored {
            cmd.arg("--ignored");
        }
        if per_unit.is_none() {
            // rustdoc makes every doctest standalone when libtest is given
            // `--show-output`, so an edition 2024 list does not compile the merged
            // program (1.1-1.2 s on indexmap, for each of the two lists); a
            // doctest's name does not depend on it, and `--list` shows no output.
            cmd.arg(LIST_UNMERGED);
        }
        cmd.stdin(Stdio::null());
        let fail = |reason: String, stderr: &[u8]| Error::ListFailed {
            binary_id: id.to_string(),
            path: package.manifest_path.clone(),
            reason,
            stderr: String::from_utf8_lossy(stderr).trim_end().to_owned(),
        };
        let out = cmd.output().map_err(|e| fail(format!("could not start cargo test --doc: {e}"), &[]))?;
        if !out.status.success() {
            return Err(fail(format!("cargo test --doc exited with {}", out.status), &out.stderr));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let merged = stdout.lines().any(is_merged_doctests_timing);
        Ok((parse_doctest_list(&stdout).map_err(|reason| fail(reason, &out.stderr))?, merged))
    };
    let (all, ignored) = rayon::join(|| list(false), || list(true));
    let ignored: HashSet<String> = ignored?.0.into_iter().collect();
    let (all, merged) = all?;
    let mut names: Vec<String> = all.clone();
    names.sort();
    let names: Arc<[String]> = names.into();
    let tests: Vec<TestCase> = all
        .into_iter()
        .map(|name| {
            let ignored = ignored.contains(&name);
            TestCase { name, ignored }
        })
        .collect();
    // One `cargo test --doc` per package, its doctests run several at a time by
    // libtest's threads: each run pays cargo's start and rustdoc collecting the
    // crate's doctests, and merged doctests (edition 2024) compile whole on every run,
    // so one run per package is the cheapest, and libtest balances its threads itself
    // (measured in docs/design.md "Doctests"). `TEMPO_DOCTESTS_PER_UNIT` still splits
    // the doctests of editions before 2024 into units of one thread each.
    let per_unit = if merged { None } else { per_unit };
    let (units, threads) = match per_unit {
        Some(max) => (split_doctests(tests, max), 1),
        None => {
            let threads = doctest_threads(crate::env::available_cores()).min(tests.len().max(1));
            (vec![(DocFilters::default(), tests)], threads)
        }
    };
    Ok(units
        .into_iter()
        .map(|(filters, mut tests)| {
            tests.sort_by(|a, b| a.name.cmp(&b.name));
            let binary = Arc::new(TestBinary {
                id: id.clone(),
                path: cargo_program().into(),
                kind: TargetKind::Doctest,
                filter_kind: "doctest",
                target_name: package.name.replace('-', "_"),
                package: Arc::clone(&package),
                build_script: None,
                doc: Some(DocUnit {
                    filters: filters.filters,
                    skip: filters.skip,
                    cargo_args: Arc::clone(&cargo_args),
                    threads,
                    names: Arc::clone(&names),
                }),
            });
            // cargo sets the package's own variables for rustdoc; tempo adds its run's.
            let mut env = BinaryEnv::for_binary(&binary, run_env);
            env.vars.retain(|(k, _)| !k.to_string_lossy().starts_with("CARGO") && k != crate::env::DYLIB_PATH_VAR);
            ListedBinary { binary, env: Arc::new(env), tests }
        })
        .collect())
}

/// How many doctests one unit runs at most, when `TEMPO_DOCTESTS_PER_UNIT` asks
/// for a package's doctests to be split into units of one thread each (the tests use
/// it to split a small fixture): `None` runs them all in one unit.
fn max_doctests_per_unit() -> Option<usize> {
    std::env::var("TEMPO_DOCTESTS_PER_UNIT").ok().and_then(|v| v.parse::<usize>().ok()).filter(|n| *n > 0)
}

/// The environment variable that sets how many doctests one unit runs at once.
pub const DOCTEST_THREADS_ENV: &str = "TEMPO_DOCTEST_THREADS";

/// How many doctests a unit runs at once: `TEMPO_DOCTEST_THREADS` (1 to
/// [`crate::limits::MAX_TEST_THREADS`]; another value is ignored with a warning),
/// else one more than the cores. A doctest is mostly rustc compiling it and the
/// linker, and the linker and the file system leave a core idle now and then, which
/// one more compile fills (measured in docs/design.md "Doctests").
fn doctest_threads(cores: usize) -> usize {
    let default = cores.max(1).saturating_add(1);
    let Ok(value) = std::env::var(DOCTEST_THREADS_ENV) else { return default };
    match value.parse::<usize>() {
        Ok(n) if (1..=crate::limits::MAX_TEST_THREADS).contains(&n) => n,
        _ => {
            eprintln!(
                "warning: {DOCTEST_THREADS_ENV}={value:?} is not from 1 to {}; running {default} doctests at once",
                crate::limits::MAX_TEST_THREADS
            );
            default
        }
    }
}

/// What one doctest unit selects: libtest filters and `--skip` patterns.
#[derive(Debug, Default, PartialEq, Eq)]
struct DocFilters {
    filters: Vec<String>,
    skip: Vec<String>,
}

/// The item a doctest documents: `src/lib.rs - a::B<T>::new (line 42)` gives
/// `a::B<T>::new`.
fn doctest_item(name: &str) -> Option<&str> {
    let (_, rest) = name.split_once(" - ")?;
    let end = rest.rfind(" (line ")?;
    Some(&rest[..end])
}

/// Splits doctests into units of at most `max` tests, each selectable by filters
/// that contain no whitespace. rustdoc splits its test arguments at whitespace and a
/// doctest's name has spaces, so a doctest cannot be named exactly; a file can (its
/// path starts every name of its doctests), and so can an item whose path has no
/// whitespace and appears in no other doctest's name, since libtest's filters match
/// substrings. A file with more than `max` doctests gives such items, `max` tests'
/// worth at a time, to units of their own; its other doctests stay in a unit that
/// selects the file and skips those items.
fn split_doctests(tests: Vec<TestCase>, max: usize) -> Vec<(DocFilters, Vec<TestCase>)> {
    let names: Vec<&str> = tests.iter().map(|t| t.name.as_str()).collect();
    let mut by_file: BTreeMap<String, Vec<&TestCase>> = BTreeMap::new();
    for test in &tests {
        let file = test.name.split(" - ").next().unwrap_or(&test.name).to_owned();
        by_file.entry(file).or_default().push(test);
    }
    // libtest's filters match substrings, so a file's filter also selects the
    // doctests of every file whose name contains it (`src/a.rs` is inside
    // `src/x/src/a.rs`, which a `#[path]` module can give); those files are skipped
    // (when their names have no whitespace, which rustdoc would split).
    let files: Vec<String> = by_file.keys().cloned().collect();
    let containing = |file: &str| -> Vec<String> {
        let contains = |f: &&String| f.as_str() != file && f.contains(file) && !f.contains(char::is_whitespace);
        files.iter().filter(contains).cloned().collect()
    };
    let mut units = Vec::new();
    for (file, tests) in by_file {
        if tests.len() <= max {
            let skip = containing(&file);
            units.push((DocFilters { filters: vec![file], skip }, tests.into_iter().cloned().collect()));
            continue;
        }
        let mut by_item: BTreeMap<&str, Vec<&TestCase>> = BTreeMap::new();
        let mut rest: Vec<TestCase> = Vec::new();
        for test in &tests {
            match doctest_item(&test.name) {
                Some(item) if !item.contains(char::is_whitespace) => by_item.entry(item).or_default().push(test),
                _ => rest.push((*test).clone()),
            }
        }
        let mut skip = Vec::new();
        let mut part = (DocFilters::default(), Vec::new());
        for (item, group) in by_item {
            // The item selects its own doctests and nothing else, in the whole package.
            let selects = names.iter().filter(|n| n.contains(item)).count();
            if selects != group.len() {
                rest.extend(group.into_iter().cloned());
                continue;
            }
            if !part.1.is_empty() && part.1.len() + group.len() > max {
                units.push(std::mem::take(&mut part));
            }
            skip.push(item.to_owned());
            part.0.filters.push(item.to_owned());
            part.1.extend(group.into_iter().cloned());
        }
        if !part.1.is_empty() {
            units.push(part);
        }
        if !rest.is_empty() {
            skip.extend(containing(&file));
            units.push((DocFilters { filters: vec![file], skip }, rest));
        }
    }
    units
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terse_lists_skip_benchmarks() {
        let names = parse_terse("a::b: test\nc: benchmark\n\nd: test\n").unwrap();
        assert_eq!(names, ["a::b", "d"]);
    }

    #[test]
    fn garbage_in_a_list_is_an_error() {
        assert!(parse_terse("running 1 test\n").is_err());
    }

    fn cases(names: &[&str]) -> Vec<TestCase> {
        names.iter().map(|n| TestCase { name: (*n).to_owned(), ignored: false }).collect()
    }

    fn units(names: &[&str], max: usize) -> Vec<(Vec<String>, Vec<String>, Vec<String>)> {
        split_doctests(cases(names), max)
            .into_iter()
            .map(|(f, tests)| {
                let mut names: Vec<String> = tests.into_iter().map(|t| t.name).collect();
                names.sort();
                (f.filters, f.skip, names)
            })
            .collect()
    }

    #[test]
    fn small_files_are_one_unit_each() {
        let names = ["src/a.rs - a::f (line 1)", "src/a.rs - a::g (line 9)", "src/b.rs - b::h (line 3)"];
        let got = units(&names, 2);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], (vec!["src/a.rs".to_owned()], vec![], vec![names[0].to_owned(), names[1].to_owned()]));
        assert_eq!(got[1].0, ["src/b.rs"]);
    }

    /// A big file's items go to units of their own when their path has no space and
    /// no other doctest's name contains it; the rest stay with the file, which skips
    /// the items run elsewhere. Every doctest is in exactly one unit.
    #[test]
    fn a_big_file_is_split_by_item_paths_that_select_exactly_their_doctests() {
        let names = [
            "src/c.rs - c::Pad (line 41)",           // a substring of the next two names: stays
            "src/c.rs - c::Pad<T>::new (line 166)",  // splittable
            "src/c.rs - c::Pad<T>::new (line 170)",  // same item, same unit
            "src/c.rs - c::Pad<T>::into (line 179)", // splittable
            "src/c.rs - <c::Pad<T> as Clone>::clone (line 190)", // a space in the item: stays
            "src/c.rs - c::Pad<T>::get (line 200)",  // splittable
            "src/d.rs - d::e (line 1)",
        ];
        let got = units(&names, 2);
        let all: Vec<&String> = got.iter().flat_map(|u| u.2.iter()).collect();
        assert_eq!(all.len(), names.len(), "{got:?}");
        // Items in name order: get, into, new (two doctests).
        assert_eq!(
            got[0],
            (vec!["c::Pad<T>::get".into(), "c::Pad<T>::into".into()], vec![], vec![names[5].into(), names[3].into()])
        );
        assert_eq!(got[1], (vec!["c::Pad<T>::new".into()], vec![], vec![names[1].into(), names[2].into()]));
        let rest = &got[2];
        assert_eq!(rest.0, ["src/c.rs"]);
        assert_eq!(rest.1, ["c::Pad<T>::get", "c::Pad<T>::into", "c::Pad<T>::new"]);
        assert_eq!(rest.2, [names[4], names[0]]);
        assert_eq!(got[3].0, ["src/d.rs"]);
        // No filter has whitespace, which rustdoc would split.
        assert!(got.iter().flat_map(|u| u.0.iter().chain(u.1.iter())).all(|f| !f.contains(' ')));
    }

    /// Regression (found by the selection property): libtest filters match
    /// substrings, so the unit for `src/b.rs` also ran the doctests of
    /// `x/src/b.rs`, which its own unit ran as well. It skips that file now.
    #[test]
    fn a_file_whose_name_is_inside_anothers_skips_the_other() {
        let names = ["src/b.rs - a (line 1)", "x/src/b.rs - a (line 1)", "src/b.rs - c::d (line 9)"];
        let got = units(&names, 8);
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0],
            (vec!["src/b.rs".into()], vec!["x/src/b.rs".into()], vec![names[0].into(), names[2].into()])
        );
        assert_eq!(got[1], (vec!["x/src/b.rs".into()], vec![], vec![names[1].into()]));
        // A big file's remainder skips the other file too, besides its split items.
        let got = units(&names, 1);
        let rest = got.iter().find(|u| u.0 == ["src/b.rs"]).expect("the remainder of src/b.rs");
        assert_eq!(rest.1, ["c::d", "x/src/b.rs"]);
    }

    /// indexmap 2.14 (edition 2024) lists its doctests this way.
    #[test]
    fn merged_doctest_lists_end_with_a_timing_line_that_is_not_a_test() {
        let list = "src/set.rs - set::IndexSet<T,S>::splice (line 676): test\n\
                    all doctests ran in 0.71s; merged doctests compilation took 0.70s\n";
        assert_eq!(parse_doctest_list(list).unwrap(), ["src/set.rs - set::IndexSet<T,S>::splice (line 676)"]);
        assert!(parse_terse(list).is_err(), "a test binary's list has no such line");
        assert!(parse_doctest_list("all doctests ran in 1s\n").is_err(), "only rustdoc's exact line is skipped");
    }

    /// Regression (found by fuzzing): a list line that is not a test was quoted
    /// whole in the error, so a binary that printed one huge line made an error
    /// message as large; the quote is now cut to [`MAX_QUOTED_LINE`] characters.
    #[test]
    fn an_unexpected_line_is_quoted_at_bounded_length() {
        let line = "é".repeat(1_000_000);
        let error = parse_terse(&format!("a: test\n{line}\n")).unwrap_err();
        assert!(error.chars().count() < MAX_QUOTED_LINE + 200, "{} characters", error.chars().count());
        assert!(error.starts_with("unexpected line in the test list: \"éé") && error.contains("1000000 characters"));
        let short = parse_terse("running 1 test\n").unwrap_err();
        assert_eq!(short, "unexpected line in the test list: \"running 1 test\"");
    }

    /// Property tests: no list makes the parsers panic; a well-formed list gives
    /// back exactly its tests; doctests split into units that hold each test once.
    mod fuzz {
        use super::*;
        use proptest::prelude::*;
        use proptest::test_runner::Config;

        fn config() -> Config {
            Config { cases: 384, failure_persistence: None, ..Config::default() }
        }

        /// A test name as libtest, rustdoc or a custom harness may print it: module
        /// paths, doctest names, odd characters and, now and then, a huge one.
        fn name() -> impl Strategy<Value = String> {
            prop_oneof![
                4 => "[a-z_]{1,8}(::[a-z_0-9]{1,8}){0,3}",
                3 => ("(src/)?[a-c]{1,2}\\.rs", "[a-c]{1,3}(::[A-Za-z<>, ]{1,6}){0,2}", 1..2000u32)
                    .prop_map(|(file, item, line)| format!("{file} - {item} (line {line})")),
                1 => "[^\n\r]{0,24}",
                1 => (1..4usize).prop_map(|n| "x".repeat(n * 30_000)),
            ]
        }

        /// A line of a list: a test, a benchmark, a blank line, or something else.
        fn line() -> impl Strategy<Value = (String, Option<String>)> {
            prop_oneof![
                6 => name().prop_map(|n| (format!("{n}: test"), Some(n))),
                1 => name().prop_map(|n| (format!("{n}: benchmark"), None)),
                1 => Just((String::new(), None)),
                1 => "[^\n]{0,40}".prop_map(|l| {
                    let test = l.strip_suffix(": test").map(str::to_owned);
                    (l, test)
                }),
            ]
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn any_text_is_a_list_or_an_error(text in any::<String>()) {
                for result in [parse_terse(&text), parse_doctest_list(&text)] {
                    if let Err(error) = result {
                        prop_assert!(error.len() < 4 * MAX_QUOTED_LINE + 200, "{} bytes", error.len());
                    }
                }
            }

            /// A list of test and benchmark lines gives back its tests in order;
            /// any other line is an error.
            #[test]
            fn lists_give_back_their_tests(lines in prop::collection::vec(line(), 0..24), crlf in any::<bool>()) {
                let text: String = lines.iter().map(|(l, _)| format!("{l}{}", if crlf { "\r\n" } else { "\n" })).collect();
                let is_well_formed = lines.iter().all(|(l, test)| {
                    l.is_empty() || test.is_some() || (l.ends_with(": benchmark") && !l.contains(['\n', '\r']))
                });
                match parse_terse(&text) {
                    Ok(names) => {
                        let expected: Vec<&str> = lines.iter().filter_map(|(_, t)| t.as_deref()).collect();
                        prop_assert_eq!(names, expected);
                    }
                    Err(_) => prop_assert!(!is_well_formed || lines.iter().any(|(l, _)| l.contains('\r'))),
                }
            }

            /// Each doctest is run by exactly the unit that holds it, under libtest's
            /// selection: a test runs if its name contains one of the unit's filters
            /// and none of its skip patterns. File names may contain one another
            /// (`src/a.rs` is inside `src/x/src/a.rs`), as `#[path]` modules allow.
            #[test]
            fn each_doctest_is_selected_by_its_own_unit_only(
                names in prop::collection::btree_set(
                    (
                        prop::sample::select(&["src/a.rs", "src/x/src/a.rs", "src/b.rs", "src/ab.rs", "x/src/b.rs"][..]),
                        "[a-c]{1,2}(::[a-c]{1,2}){0,2}",
                        1..40u32,
                    )
                        .prop_map(|(file, item, line)| format!("{file} - {item} (line {line})")),
                    0..30,
                ),
                max in 1..5usize,
            ) {
                let tests: Vec<TestCase> = names.iter().map(|n| TestCase { name: n.clone(), ignored: false }).collect();
                let units = split_doctests(tests, max);
                for name in &names {
                    let selected_by: Vec<usize> = units
                        .iter()
                        .enumerate()
                        .filter(|(_, (f, _))| {
                            f.filters.iter().any(|p| name.contains(p.as_str()))
                                && !f.skip.iter().any(|p| name.contains(p.as_str()))
                        })
                        .map(|(i, _)| i)
                        .collect();
                    let holder = units.iter().position(|(_, t)| t.iter().any(|t| &t.name == name));
                    prop_assert_eq!(selected_by, holder.into_iter().collect::<Vec<_>>(), "{} in {:?}", name, units);
                }
            }

            /// However the doctests are named and split, each lands in exactly one
            /// unit, and no filter or skip pattern holds whitespace (rustdoc would
            /// split it) unless the file name itself has some.
            #[test]
            fn doctests_split_into_units_that_hold_each_once(
                names in prop::collection::btree_set(name().prop_filter("huge names are the list's", |n| n.len() < 100), 0..24),
                max in 1..6usize,
            ) {
                let tests: Vec<TestCase> = names.iter().map(|n| TestCase { name: n.clone(), ignored: false }).collect();
                let units = split_doctests(tests, max);
                let mut seen: Vec<&str> = units.iter().flat_map(|(_, t)| t.iter().map(|t| t.name.as_str())).collect();
                seen.sort_unstable();
                let expected: Vec<&str> = names.iter().map(String::as_str).collect();
                prop_assert_eq!(seen, expected);
                for (filters, tests) in &units {
                    prop_assert!(!tests.is_empty());
                    for pattern in filters.filters.iter().chain(&filters.skip) {
                        let file_has_space = tests.iter().any(|t| t.name.split(" - ").next() == Some(pattern));
                        prop_assert!(!pattern.contains(char::is_whitespace) || file_has_space, "{:?}", pattern);
                    }
                }
            }
        }
    }
}
