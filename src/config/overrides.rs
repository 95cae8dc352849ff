//! Per-test overrides: `[[profile.NAME.overrides]]` tables selected by a filter
//! expression and/or a platform, each able to change a few settings.
//!
//! For each setting, the first override that matches a test and sets that setting
//! wins. The selected profile's overrides come first, then those of the profiles it
//! inherits from, and the `default` profile's last: nextest's order.

use std::ops::Range;

use super::ConfigSource;
use super::error::ConfigError;
use super::platform::PlatformSpec;
use super::raw::{
    Isolation, LeakTimeout, OutputMode, RawOverride, RawPlatform, RetryPolicy, SlowTimeout, ThreadsRequired,
};
use crate::filter::{FilterContext, FilterExpr, TestQuery};

/// The test group an override puts tests in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupChoice {
    /// A named group from `[test-groups]`.
    Named(String),
    /// `@global`: no group at all.
    Global,
}

/// One resolved override.
#[derive(Debug, Clone)]
pub struct Override {
    /// Where it was written: `profile.NAME.overrides[i]`.
    pub source: String,
    /// Which tests it selects.
    pub filter: Option<FilterExpr>,
    /// Which platforms it applies on.
    pub platform: Option<PlatformSpec>,
    /// Scheduling priority, -100 to 100; higher starts first.
    pub priority: Option<i32>,
    /// Retry policy.
    pub retries: Option<RetryPolicy>,
    /// Slow timeout.
    pub slow_timeout: Option<SlowTimeout>,
    /// Leak timeout.
    pub leak_timeout: Option<LeakTimeout>,
    /// Slots taken.
    pub threads_required: Option<ThreadsRequired>,
    /// Test group.
    pub test_group: Option<GroupChoice>,
    /// When passing output is shown.
    pub success_output: Option<OutputMode>,
    /// When failing output is shown.
    pub failure_output: Option<OutputMode>,
    /// Keep passing output in JUnit.
    pub junit_store_success_output: Option<bool>,
    /// Keep failing output in JUnit.
    pub junit_store_failure_output: Option<bool>,
    /// tempo's per-test `budget.slow`: the longest the test's final attempt may take.
    pub slow_budget: Option<std::time::Duration>,
    /// Whether the tests may share a process.
    pub isolation: Option<Isolation>,
}

impl Override {
    /// Whether the override applies to `test`.
    pub fn applies(&self, test: &TestQuery<'_>, cx: &FilterContext) -> bool {
        self.platform.as_ref().is_none_or(PlatformSpec::matches)
            && self.filter.as_ref().is_none_or(|f| f.matches(test, cx))
    }

    pub(super) fn from_raw(
        raw: &RawOverride,
        source_name: String,
        file: Option<&ConfigSource>,
        groups: &[String],
    ) -> Result<Override, ConfigError> {
        let at = |span: std::ops::Range<usize>, message: String, help: String| match file {
            Some(f) => ConfigError::at(f, span, message, help),
            None => ConfigError::Invalid { message, help },
        };
        if raw.filter.is_none() && raw.platform.is_none() {
            return Err(ConfigError::Invalid {
                message: format!("`{source_name}` has neither `filter` nor `platform`"),
                help: "add a filter expression or a platform that selects the tests it applies to".into(),
            });
        }
        let filter = match &raw.filter {
            None => None,
            Some(f) => Some(FilterExpr::parse_override_filter(f.get_ref()).map_err(|e| {
                let span = span_in_file(file, f.span(), f.get_ref(), e.span());
                at(span, format!("invalid filter expression: {}", e.kind()), e.kind().expected().to_owned())
            })?),
        };
        let platform = match &raw.platform {
            None => None,
            Some(p) => {
                let spec = match p.get_ref() {
                    RawPlatform::Target(s) => Some(s.as_str()),
                    RawPlatform::Both { target, host } => target.as_deref().or(host.as_deref()),
                };
                match spec {
                    Some(s) => Some(PlatformSpec::parse(s).map_err(|e| at(p.span(), e, String::new()))?),
                    None => None,
                }
            }
        };
        let priority = match &raw.priority {
            Some(p) if !(-100..=100).contains(p.get_ref()) => {
                return Err(at(
                    p.span(),
                    format!("priority {} is out of range", p.get_ref()),
                    "expected -100 to 100".into(),
                ));
            }
            p => p.as_ref().map(|p| *p.get_ref()),
        };
        let test_group = match &raw.test_group {
            None => None,
            Some(g) if g.get_ref() == crate::filter::GLOBAL_GROUP => Some(GroupChoice::Global),
            Some(g) if groups.iter().any(|k| k == g.get_ref()) => Some(GroupChoice::Named(g.get_ref().clone())),
            Some(g) => {
                let mut choices: Vec<&str> = groups.iter().map(String::as_str).collect();
                choices.push(crate::filter::GLOBAL_GROUP);
                return Err(at(
                    g.span(),
                    format!("unknown test group `{}`", g.get_ref()),
                    format!("expected one of: {} (define groups under [test-groups])", choices.join(", ")),
                ));
            }
        };
        Ok(Override {
            source: source_name,
            filter,
            platform,
            priority,
            retries: raw.retries.clone(),
            slow_timeout: raw.slow_timeout.clone(),
            leak_timeout: raw.leak_timeout,
            threads_required: raw.threads_required,
            test_group,
            success_output: raw.success_output,
            failure_output: raw.failure_output,
            junit_store_success_output: raw.junit.as_ref().and_then(|j| j.store_success_output),
            junit_store_failure_output: raw.junit.as_ref().and_then(|j| j.store_failure_output),
            slow_budget: raw.budget.as_ref().map(|b| b.slow),
            isolation: raw.isolation,
        })
    }
}

/// Where in the file a part of a string value is: `inner` (byte offsets in the
/// value) within the string written at `string` (the quoted string's span).
///
/// The offsets carry over only when the file holds the value verbatim between two
/// quotes. Once the string has escapes (`\u00e9` is six bytes for two) or is
/// multi-line (its first line break is dropped), they no longer line up, and could
/// even land inside a multi-byte character; the whole string is pointed at then.
fn span_in_file(file: Option<&ConfigSource>, string: Range<usize>, value: &str, inner: Range<usize>) -> Range<usize> {
    let written = file.and_then(|f| f.text.get(string.clone())).unwrap_or_default();
    let multi_line = written.starts_with("'''") || written.starts_with(r#"""""#);
    let verbatim = ['"', '\''].iter().any(|&q| written.strip_prefix(q).and_then(|w| w.strip_suffix(q)) == Some(value));
    if verbatim && !multi_line {
        let start = string.start + 1 + inner.start;
        start..string.start + 1 + inner.end.max(inner.start + 1)
    } else {
        string
    }
}
