//! Records a run into the history store: the reporter that hears every test's final
//! result and saves the durations the next run plans with.

use std::io;
use std::path::PathBuf;

use crate::events::{Event, Outcome, Reporter};
use crate::files::WriteError;
use crate::history::{History, RunRecord, RunSummary, now_secs};

fn outcome_word(outcome: Outcome, attempt: u32) -> &'static str {
    match outcome {
        Outcome::Pass if attempt > 1 => "flaky",
        Outcome::Pass => "pass",
        Outcome::Fail(_) => "fail",
        Outcome::Timeout => "timeout",
        Outcome::LeakFail => "leak-fail",
        Outcome::ExecFail => "exec-fail",
    }
}

/// Records every test's final result and writes the history when the run ends
/// (interrupted runs included, for the tests that finished).
///
/// A sharded run's records go to the shard's pending entry (see [`History::pending`]);
/// a run without `--partition` settles every pending record.
pub struct HistoryReporter {
    path: Option<PathBuf>,
    history: History,
    started: u64,
    profile: String,
    /// The shard this run is, with what it recorded so far.
    shard: Option<(crate::shard::Partition, History)>,
}

impl HistoryReporter {
    /// A reporter that adds to `history` and saves it to `path`.
    pub fn new(path: PathBuf, history: History) -> HistoryReporter {
        HistoryReporter { path: Some(path), history, started: now_secs(), profile: String::new(), shard: None }
    }

    /// Makes the run's test records those of one shard of a split (`--partition`).
    pub fn sharded(mut self, partition: Option<crate::shard::Partition>) -> HistoryReporter {
        self.shard = partition.map(|p| (p, History::default()));
        self
    }

    /// A reporter that adds to `history` and never saves it: for runs that must not
    /// leave a record (a `tune` sweep) but whose later runs may learn from it.
    pub fn in_memory(history: History) -> HistoryReporter {
        HistoryReporter { path: None, history, started: now_secs(), profile: String::new(), shard: None }
    }

    /// The history, with what the run added.
    pub fn into_history(self) -> History {
        self.history
    }
}

impl Reporter for HistoryReporter {
    fn report(&mut self, event: &Event) -> io::Result<()> {
        let finished = match event {
            Event::TestFinished(f) if !f.will_retry => f,
            Event::RetryAbandoned(f) => f,
            Event::RunStarted(info) => {
                self.profile = info.profile.clone();
                return Ok(());
            }
            Event::RunFinished(stats) => {
                self.history.record_run(RunSummary {
                    at: self.started,
                    profile: self.profile.clone(),
                    passed: stats.passed,
                    failed: stats.failed,
                    accounting: stats.accounting(),
                });
                match self.shard.take() {
                    Some((partition, recorded)) => self.history.record_shard(partition, recorded.tests),
                    None => self.history.settle_all(),
                }
                let Some(path) = &self.path else { return Ok(()) };
                crate::phase::mark("history save");
                if let Some(warning) = self.history.clone().save_merged(path).map_err(WriteError::into_io)? {
                    eprintln!("warning: {warning}");
                }
                crate::phase::mark("history saved");
                return Ok(());
            }
            _ => return Ok(()),
        };
        let r = &finished.result;
        let record = RunRecord {
            at: self.started,
            duration_us: r.duration.as_micros() as u64,
            cpu_us: r.usage.cpu().as_micros() as u64,
            outcome: outcome_word(r.outcome, finished.attempt).to_owned(),
            attempts: finished.attempt,
            batched: r.batched,
        };
        let test = &finished.test;
        let history = match &mut self.shard {
            Some((_, recorded)) => recorded,
            None => &mut self.history,
        };
        history.record(test.binary_id().as_str(), &test.name, &test.binary.package.name, record);
        if r.isolation_sensitive() {
            history.mark_isolation_sensitive(test.binary_id().as_str(), &test.name);
        }
        Ok(())
    }
}
