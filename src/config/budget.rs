//! The `budget` keys: performance targets a run must meet, so that a suite that got
//! slower or stopped using the machine fails CI instead of drifting unnoticed.
//!
//! `[profile.NAME.budget]` takes `wall`, `cpu-utilization`, `slow` and `enforce`;
//! an override's `budget = { slow = "2s" }` sets the per-test limit for the tests it
//! selects. Values are checked as they are read, so a bad one is reported at its line.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::raw::duration;

/// What a missed budget does to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Enforce {
    /// The run fails with its own exit code.
    #[default]
    Fail,
    /// A warning is printed and the run passes.
    Warn,
}

/// A profile's budget after inheritance. A target left unset is not checked.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Budget {
    /// The longest the run may take (its wall time).
    pub wall: Option<Duration>,
    /// The least CPU utilization the run must reach, 0 to 1.
    pub cpu_utilization: Option<f64>,
    /// The longest any one test's final attempt may take, unless an override says otherwise.
    pub slow: Option<Duration>,
    /// Whether a miss fails the run or only warns.
    pub enforce: Enforce,
}

impl Budget {
    /// Whether any target is set, so that the run must be checked.
    pub fn has_targets(&self) -> bool {
        self.wall.is_some() || self.cpu_utilization.is_some() || self.slow.is_some()
    }

    /// Lays the keys a profile sets over the inherited ones, key by key.
    pub(super) fn apply(&mut self, raw: &RawBudget) {
        if let Some(v) = raw.wall {
            self.wall = Some(v);
        }
        if let Some(v) = raw.cpu_utilization {
            self.cpu_utilization = Some(v.0);
        }
        if let Some(v) = raw.slow {
            self.slow = Some(v);
        }
        if let Some(v) = raw.enforce {
            self.enforce = v;
        }
    }
}

/// `[profile.NAME.budget]`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(super) struct RawBudget {
    #[serde(default, deserialize_with = "opt_duration")]
    pub wall: Option<Duration>,
    pub cpu_utilization: Option<Fraction>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub slow: Option<Duration>,
    pub enforce: Option<Enforce>,
}

/// An override's `budget`: only the per-test `slow` limit, since the run-wide targets
/// cannot apply to some tests and not others.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(super) struct RawOverrideBudget {
    #[serde(deserialize_with = "duration")]
    pub slow: Duration,
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

/// A number from 0 to 1, such as `0.8` for 80%.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Fraction(pub f64);

impl<'de> Deserialize<'de> for Fraction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Fraction;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number from 0 to 1, such as 0.8 for 80%")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Fraction, E> {
                if (0.0..=1.0).contains(&v) {
                    Ok(Fraction(v))
                } else {
                    Err(E::custom(format!(
                        "cpu-utilization {v} is out of range; expected a number from 0 to 1, such as 0.8 for 80%"
                    )))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Fraction, E> {
                self.visit_f64(v as f64)
            }
        }
        d.deserialize_any(V)
    }
}
