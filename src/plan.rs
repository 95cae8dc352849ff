//! Decides which of the discovered tests run, and with what settings.
//!
//! The plan is the list of [`TestInstance`]s handed to the scheduler, plus the count of
//! tests that were left out, which the summary reports as skipped (as nextest does).

use std::sync::Arc;

use crate::build::TestBinary;
use crate::discover::ListedBinary;
use crate::env::BinaryEnv;
use crate::options::NameFilter;
use crate::test_id::BinaryId;

/// One test that will run, with everything needed to start it.
#[derive(Debug)]
pub struct TestInstance {
    /// The binary that holds it.
    pub binary: Arc<TestBinary>,
    /// That binary's environment.
    pub env: Arc<BinaryEnv>,
    /// The full libtest name.
    pub name: String,
    /// Whether it is ignored (and so needs `--ignored` to run).
    pub ignored: bool,
}

impl TestInstance {
    /// The binary's id.
    pub fn binary_id(&self) -> &BinaryId {
        &self.binary.id
    }
}

/// A shared handle on a test instance, cheap to pass around in events.
pub type TestRef = Arc<TestInstance>;

/// The tests that will run, in a stable order (binary id, then name).
#[derive(Debug, Default)]
pub struct TestPlan {
    /// The selected tests.
    pub tests: Vec<TestRef>,
    /// How many listed tests the filters or the ignored flag left out.
    pub skipped: usize,
    /// How many binaries have at least one selected test.
    pub binary_count: usize,
}

impl TestPlan {
    /// Selects tests from listed binaries, which may come in any order.
    pub fn new(mut listed: Vec<ListedBinary>, filter: &NameFilter) -> TestPlan {
        listed.sort_by(|a, b| a.binary.id.cmp(&b.binary.id));
        let mut plan = TestPlan::default();
        for lb in listed {
            let before = plan.tests.len();
            for case in lb.tests {
                if filter.matches_ignored(case.ignored) && filter.matches_name(&case.name) {
                    plan.tests.push(Arc::new(TestInstance {
                        binary: Arc::clone(&lb.binary),
                        env: Arc::clone(&lb.env),
                        name: case.name,
                        ignored: case.ignored,
                    }));
                } else {
                    plan.skipped += 1;
                }
            }
            if plan.tests.len() > before {
                plan.binary_count += 1;
            }
        }
        plan
    }
}
