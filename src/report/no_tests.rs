//! What tempo says when the filters select no test, and the exit code that goes
//! with it (`--no-tests`).

/// What a run that selects no test does (`--no-tests`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NoTests {
    /// Exit 4 (`NO_TESTS_RUN`) with an error, as nextest does by default.
    #[default]
    Fail,
    /// Exit 0 with a warning.
    Warn,
    /// Exit 0 silently.
    Pass,
}

impl NoTests {
    /// Says so as the action asks, and returns the exit code; `found` is how many
    /// tests the filters left out.
    pub fn report(self, found: usize) -> i32 {
        let what = format!("no tests to run: the filters matched none of the {found} tests found");
        match self {
            NoTests::Fail => {
                eprintln!("error: {what}");
                crate::error::exit_code::NO_TESTS_RUN
            }
            NoTests::Warn => {
                eprintln!("warning: {what}");
                crate::error::exit_code::OK
            }
            NoTests::Pass => crate::error::exit_code::OK,
        }
    }
}
