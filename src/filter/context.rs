//! What a filter expression needs to know beyond the test itself: the package
//! dependency graph for `deps()` and `rdeps()`, and the default filter for
//! `default()`.
//!
//! A dependency closure is computed the first time a `deps()` or `rdeps()`
//! argument is evaluated and cached for the rest of the run, so that evaluating an
//! expression for ten thousand tests walks the graph once per distinct argument,
//! not once per test. The cache sits behind a mutex so that a context can be
//! shared by threads that filter binaries in parallel.

use super::matcher::NameMatcher;
use super::{BinaryQuery, FilterExpr, TestQuery};
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock, PoisonError};

/// Everything a filter expression is evaluated against, apart from the test.
#[derive(Debug, Default)]
pub struct FilterContext {
    /// Package name to the names of its direct dependencies, for every package in
    /// the build (workspace members and external crates alike).
    graph: HashMap<String, Vec<String>>,
    /// The workspace's own packages, when known. nextest resolves the matcher of
    /// `package()`, `deps()` and `rdeps()` against workspace packages only; without
    /// this list every package of the graph is a candidate.
    workspace_members: Option<Vec<String>>,
    /// The expression `default()` stands for; `None` means `all()`.
    pub default_filter: Option<Box<FilterExpr>>,
    /// The graph with its edges reversed, built on first use by `rdeps()`.
    reverse_graph: OnceLock<HashMap<String, Vec<String>>>,
    closures: Mutex<Closures>,
}

#[derive(Debug, Default)]
struct Closures {
    dependencies: HashMap<Box<str>, HashSet<String>>,
    reverse_dependencies: HashMap<Box<str>, HashSet<String>>,
}

/// Which way a dependency closure follows the graph's edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// `deps()`: the matched packages and everything they depend on.
    Dependencies,
    /// `rdeps()`: the matched packages and everything that depends on them.
    ReverseDependencies,
}

impl FilterContext {
    /// Creates a context from the package dependency graph (package name to the
    /// names of its direct dependencies) and the default filter (`None` for
    /// `all()`).
    ///
    /// The graph is only consulted by `deps()` and `rdeps()`; when no expression
    /// [uses it](FilterExpr::uses_dependency_graph), an empty map will do.
    pub fn new(deps: HashMap<String, Vec<String>>, default_filter: Option<FilterExpr>) -> Self {
        FilterContext { graph: deps, default_filter: default_filter.map(Box::new), ..FilterContext::default() }
    }

    /// Restricts the packages that `package()`, `deps()` and `rdeps()` matchers are
    /// resolved against to the workspace's own, as nextest does: `rdeps(serde)` then
    /// matches nothing, and [`FilterExpr::check_packages`] reports it.
    pub fn with_workspace_members(mut self, members: impl IntoIterator<Item = String>) -> Self {
        self.workspace_members = Some(members.into_iter().collect());
        self.closures = Mutex::default();
        self
    }

    /// Whether a test is selected by the default filter.
    pub fn matches_default(&self, test: &TestQuery<'_>) -> bool {
        self.default_filter
            .as_ref()
            .is_none_or(|filter| filter.eval_in(&test.binary(), Some(test), self, true).unwrap_or(false))
    }

    /// Whether a whole binary is selected by the default filter: `Some(false)` if
    /// none of its tests can be, `None` if that depends on the test names.
    pub fn matches_default_binary(&self, binary: &BinaryQuery<'_>) -> Option<bool> {
        match &self.default_filter {
            None => Some(true),
            Some(filter) => filter.eval_in(binary, None, self, true),
        }
    }

    /// Whether the context knows any package to resolve matchers against.
    pub(crate) fn has_packages(&self) -> bool {
        self.candidates().next().is_some()
    }

    /// Whether any package that a matcher is resolved against matches it.
    pub(crate) fn any_package_matches(&self, matcher: &NameMatcher) -> bool {
        self.candidates().any(|name| matcher.is_match(name))
    }

    /// Whether `package` is in the closure of the packages matching `matcher`.
    pub(crate) fn closure_contains(
        &self,
        direction: Direction,
        key: &str,
        matcher: &NameMatcher,
        package: &str,
    ) -> bool {
        let mut closures = self.closures.lock().unwrap_or_else(PoisonError::into_inner);
        let cache = match direction {
            Direction::Dependencies => &mut closures.dependencies,
            Direction::ReverseDependencies => &mut closures.reverse_dependencies,
        };
        if let Some(closure) = cache.get(key) {
            return closure.contains(package);
        }
        let closure = self.compute_closure(direction, matcher);
        let contains = closure.contains(package);
        cache.insert(key.into(), closure);
        contains
    }

    /// How many dependency closures have been computed, for tests of the cache.
    #[cfg(test)]
    pub(crate) fn cached_closure_count(&self) -> usize {
        let closures = self.closures.lock().unwrap_or_else(PoisonError::into_inner);
        closures.dependencies.len() + closures.reverse_dependencies.len()
    }

    /// The package names a matcher is resolved against.
    fn candidates(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        match &self.workspace_members {
            Some(members) => Box::new(members.iter().map(String::as_str)),
            None => Box::new(
                self.graph.iter().flat_map(|(name, deps)| std::iter::once(name).chain(deps)).map(String::as_str),
            ),
        }
    }

    fn compute_closure(&self, direction: Direction, matcher: &NameMatcher) -> HashSet<String> {
        let edges = match direction {
            Direction::Dependencies => &self.graph,
            Direction::ReverseDependencies => self.reverse_graph.get_or_init(|| {
                let mut reverse: HashMap<String, Vec<String>> = HashMap::new();
                for (package, deps) in &self.graph {
                    for dep in deps {
                        reverse.entry(dep.clone()).or_default().push(package.clone());
                    }
                }
                reverse
            }),
        };
        let mut seen: HashSet<String> = HashSet::new();
        let mut stack: Vec<&str> = Vec::new();
        for name in self.candidates().filter(|name| matcher.is_match(name)) {
            if seen.insert(name.to_owned()) {
                stack.push(name);
            }
        }
        while let Some(name) = stack.pop() {
            for next in edges.get(name).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next);
                }
            }
        }
        seen
    }
}
