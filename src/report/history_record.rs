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
    /// A digest of the run's id, set when the run starts (see `RunRecord::run`).
    run: Option<u64>,
    profile: String,
    /// The shard this run is, with what it recorded so far.
    shard: Option<(crate::shard::Partition, History)>,
    /// The history's write, started when the run finished and joined by `finish`.
    saving: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl HistoryReporter {
    /// A reporter that adds to `history` and saves it to `path`.
    pub fn new(path: PathBuf, history: History) -> HistoryReporter {
        HistoryReporter { path: Some(path), ..HistoryReporter::in_memory(history) }
    }

    /// Makes the run's test records those of one shard of a split (`--partition`).
    pub fn sharded(mut self, partition: Option<crate::shard::Partition>) -> HistoryReporter {
        self.shard = partition.map(|p| (p, History::default()));
        self
    }

    /// A reporter that adds to `history` and never saves it: for runs that must not
    /// leave a record (a `tune` sweep) but whose later runs may learn from it.
    pub fn in_memory(history: History) -> HistoryReporter {
        HistoryReporter {
            path: None,
            history,
            started: now_secs(),
            run: None,
            profile: String::new(),
            shard: None,
            saving: None,
        }
    }

    /// The history, with what the run added.
    pub fn into_history(self) -> History {
        self.history
    }
}

impl HistoryReporter {
    /// Writes the history on the calling thread.
    fn write_now(&self) -> io::Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        if let Some(warning) = self.history.clone().save_merged(path).map_err(WriteError::into_io)? {
            eprintln!("warning: {warning}");
        }
        Ok(())
    }
}

impl Reporter for HistoryReporter {
    fn finish(&mut self) -> io::Result<()> {
        match self.saving.take().map(std::thread::JoinHandle::join) {
            None => Ok(()),
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the thread writing the history panicked")),
        }
    }

    fn report(&mut self, event: &Event) -> io::Result<()> {
        let finished = match event {
            Event::TestFinished(f) if !f.will_retry => f,
            Event::RetryAbandoned(f) => f,
            Event::RunStarted(info) => {
                self.profile = info.profile.clone();
                self.run = Some(xxhash_rust::xxh64::xxh64(info.run_id.as_bytes(), 0));
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
                let Some(path) = self.path.clone() else { return Ok(()) };
                // Written on a thread of its own, while the other reporters write
                // theirs (the HTML report, JUnit): `finish` waits for it.
                let history = self.history.clone();
                let save = move || {
                    crate::phase::mark("history save");
                    if let Some(warning) = history.save_merged(&path).map_err(WriteError::into_io)? {
                        eprintln!("warning: {warning}");
                    }
                    crate::phase::mark("history saved");
                    Ok(())
                };
                match std::thread::Builder::new().name("tempo-history".into()).spawn(save) {
                    Ok(handle) => self.saving = Some(handle),
                    // No thread to be had: write it here.
                    Err(_) => return self.write_now(),
                }
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
            // Two decimals, which JSON reads back exactly, so that a merge of two
            // copies of the file sees one record as one.
            run: self.run,
            output_bytes: (!r.batched).then(|| {
                let bytes = |o: &crate::events::CapturedOutput| (o.bytes.len() as u64).saturating_add(o.dropped);
                bytes(&r.stdout).saturating_add(bytes(&r.stderr))
            }),
            pressure: r.pressure.map(|p| (p.clamp(0.0, crate::history::MAX_PRESSURE) * 100.0).round() / 100.0),
        };
        let test = &finished.test;
        let history = match &mut self.shard {
            Some((_, recorded)) => recorded,
            None => &mut self.history,
        };
        let loud = record.output_bytes >= Some(crate::plan::LOUD_FROM);
        // libtest names a `#[should_panic]` test so in its line of a run alone.
        let should_panic = !r.batched && {
            let line = format!("test {} - should panic ... ", test.name);
            r.stdout.bytes.windows(line.len()).any(|w| w == line.as_bytes())
        };
        history.record(test.binary_id().as_str(), &test.name, &test.binary.package.name, record);
        if let Some(h) = history.get_mut(test.binary_id().as_str(), &test.name) {
            // What the run learned of the test for good (see each flag).
            h.isolation_sensitive |= r.isolation_sensitive();
            h.should_panic |= should_panic;
            h.loud |= loud;
            h.collapses |= crate::plan::admission::collapsed(h);
        }
        Ok(())
    }
}
