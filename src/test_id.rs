//! The names tempo gives to test binaries and tests, shared by every stage.
//!
//! A binary id follows cargo-nextest's scheme so that filters, JUnit files and
//! histories written for nextest keep meaning the same thing under tempo.

use std::fmt;
use std::sync::Arc;

/// What kind of Cargo target a test binary was built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    /// A library's unit tests (`lib`, `rlib`, `proc-macro`, ...).
    Lib,
    /// A binary target's unit tests.
    Bin,
    /// An integration test under `tests/`.
    Test,
    /// An example built in test mode.
    Example,
    /// A benchmark built in test mode.
    Bench,
    /// The doctests of a library.
    Doctest,
}

impl TargetKind {
    /// Maps Cargo's `target.kind` strings to a kind; library crate types all map to [`TargetKind::Lib`].
    pub fn from_cargo(kinds: &[impl AsRef<str>]) -> TargetKind {
        match kinds.first().map(AsRef::as_ref) {
            Some("bin") => TargetKind::Bin,
            Some("test") => TargetKind::Test,
            Some("example") => TargetKind::Example,
            Some("bench") => TargetKind::Bench,
            _ => TargetKind::Lib,
        }
    }

    /// The name nextest's `kind()` predicate uses for this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Lib => "lib",
            TargetKind::Bin => "bin",
            TargetKind::Test => "test",
            TargetKind::Example => "example",
            TargetKind::Bench => "bench",
            TargetKind::Doctest => "doctest",
        }
    }
}

/// A test binary's id: `pkg` for lib tests, `pkg::name` for integration tests and
/// `pkg::kind/name` for everything else, exactly as cargo-nextest spells them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct BinaryId(Arc<str>);

impl BinaryId {
    /// The key nextest sorts binaries by: package, then the lib before integration
    /// tests before every other kind, then kind and target name.
    fn sort_key(&self) -> (&str, u8, &str, &str) {
        match self.0.split_once("::") {
            None => (&self.0, 0, "", ""),
            Some((pkg, rest)) => match rest.split_once('/') {
                None => (pkg, 1, "", rest),
                Some((kind, name)) => (pkg, 2, kind, name),
            },
        }
    }
}

impl Ord for BinaryId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.sort_key().cmp(&other.sort_key())
    }
}

impl PartialOrd for BinaryId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl BinaryId {
    /// Builds the id of a target of `package`.
    ///
    /// ```
    /// use tempo::test_id::{BinaryId, TargetKind};
    ///
    /// assert_eq!(BinaryId::new("my-crate", TargetKind::Lib, "my_crate").as_str(), "my-crate");
    /// assert_eq!(BinaryId::new("my-crate", TargetKind::Test, "api").as_str(), "my-crate::api");
    /// assert_eq!(BinaryId::new("my-crate", TargetKind::Bin, "tool").as_str(), "my-crate::bin/tool");
    /// ```
    pub fn new(package: &str, kind: TargetKind, target_name: &str) -> BinaryId {
        let id = match kind {
            TargetKind::Lib => package.to_owned(),
            TargetKind::Test => format!("{package}::{target_name}"),
            TargetKind::Doctest => format!("{package}::doctest"),
            other => format!("{package}::{}/{target_name}", other.as_str()),
        };
        BinaryId(id.into())
    }

    /// Wraps an id read back from a file or an event.
    pub fn from_raw(id: &str) -> BinaryId {
        BinaryId(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BinaryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_ids_follow_nextest() {
        assert_eq!(BinaryId::new("beta-tool", TargetKind::Lib, "beta_tool").as_str(), "beta-tool");
        assert_eq!(BinaryId::new("alpha", TargetKind::Test, "more").as_str(), "alpha::more");
        assert_eq!(BinaryId::new("beta-tool", TargetKind::Bin, "beta-cli").as_str(), "beta-tool::bin/beta-cli");
        assert_eq!(BinaryId::new("a", TargetKind::Example, "ex").as_str(), "a::example/ex");
        assert_eq!(BinaryId::new("a", TargetKind::Bench, "b").as_str(), "a::bench/b");
    }

    #[test]
    fn binaries_sort_in_nextest_order() {
        let mut ids: Vec<BinaryId> =
            ["beta-tool::example/demo", "beta-tool::bin/beta-tool", "beta-tool::cli", "beta-tool", "alpha::z", "alpha"]
                .iter()
                .map(|s| BinaryId::from_raw(s))
                .collect();
        ids.sort();
        let sorted: Vec<&str> = ids.iter().map(BinaryId::as_str).collect();
        assert_eq!(
            sorted,
            ["alpha", "alpha::z", "beta-tool", "beta-tool::cli", "beta-tool::bin/beta-tool", "beta-tool::example/demo"]
        );
    }

    #[test]
    fn cargo_kinds_map_to_target_kinds() {
        assert_eq!(TargetKind::from_cargo(&["proc-macro"]), TargetKind::Lib);
        assert_eq!(TargetKind::from_cargo(&["cdylib", "rlib"]), TargetKind::Lib);
        assert_eq!(TargetKind::from_cargo(&["test"]), TargetKind::Test);
        assert_eq!(TargetKind::from_cargo(&["bin"]), TargetKind::Bin);
    }
}
