use std::time::{Duration, SystemTime};

use super::*;
use crate::events::ExecutionResult;
use crate::plan::fake;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn info(slots: usize) -> RunInfo {
    RunInfo {
        run_id: "00000000-0000-0000-0000-000000000000".into(),
        profile: "default".into(),
        started_at: SystemTime::UNIX_EPOCH,
        test_count: 0,
        skipped: 0,
        skipped_tests: std::sync::Arc::new([]),
        binary_count: 1,
        slots,
        cores: 2,
        adaptive: false,
        pipelined: false,
        planned: std::sync::Arc::default(),
        clock: std::time::Instant::now(),
    }
}

struct Run {
    reporter: HtmlReporter,
    stats: RunStats,
}

impl Run {
    fn new(slots: usize, tests: usize) -> Run {
        let mut reporter = HtmlReporter::new(PathBuf::from("/nonexistent/report.html"), HashSet::new());
        reporter.report(&Event::RunStarted(RunInfo { test_count: tests, ..info(slots) })).unwrap();
        let stats =
            RunStats { planned: tests, slots, cores: 2, slot_busy: vec![Duration::ZERO; slots], ..RunStats::default() };
        Run { reporter, stats }
    }

    #[expect(clippy::too_many_arguments, reason = "a test helper that spells out one attempt")]
    fn attempt(
        &mut self,
        test: &TestRef,
        slot: usize,
        attempt: u32,
        max: u32,
        outcome: Outcome,
        start: Duration,
        duration: Duration,
        stderr: &[u8],
    ) {
        let result = ExecutionResult {
            outcome,
            exit: Some(if outcome.is_success() { ExitStatus::Code(0) } else { ExitStatus::Code(101) }),
            start,
            duration,
            usage: ResourceUsage { user: duration / 2, system: Duration::ZERO, max_rss: 4 << 20 },
            stdout: CapturedOutput::default(),
            stderr: CapturedOutput { bytes: stderr.to_vec(), dropped: 0 },
            error: None,
            leaked: false,
            batched: false,
            rerun: None,
            pressure: None,
        };
        let will_retry = !outcome.is_success() && attempt < max;
        let finished = TestFinished { test: test.clone(), slot, attempt, max_attempts: max, result, will_retry };
        self.reporter.report(&Event::TestFinished(Box::new(finished))).unwrap();
        let s = &mut self.stats;
        s.wall = s.wall.max(start + duration);
        s.test_time += duration;
        s.cpu += duration / 2;
        s.longest = s.longest.max(duration);
        s.slot_busy[slot] += duration;
        if !will_retry {
            s.finished += 1;
            if outcome.is_success() {
                s.passed += 1;
                s.flaky += usize::from(attempt > 1);
            } else {
                s.failed += 1;
                s.timed_out += usize::from(outcome == Outcome::Timeout);
            }
        }
    }

    fn html(&self) -> String {
        self.reporter.render(&self.stats)
    }
}

/// The timeline's bars, each with the number of attempts it stands for.
fn bars(doc: &roxmltree::Document<'_>) -> Vec<(usize, String, usize)> {
    doc.descendants()
        .filter(|n| n.has_tag_name("g") && n.attribute("class") == Some("lane"))
        .flat_map(|lane| {
            let slot: usize = lane.attribute("data-slot").unwrap().parse().unwrap();
            lane.descendants()
                .filter(|r| r.has_tag_name("rect") && r.attribute("class") != Some("stripe"))
                .map(move |r| {
                    let title = r.children().find(|c| c.has_tag_name("title")).and_then(|t| t.text()).unwrap_or("");
                    let n = r.attribute("data-n").map_or(1, |n| n.parse().unwrap());
                    (slot, title.lines().next().unwrap_or("").to_owned(), n)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Reads the report as XML: it is written to be well-formed, `<!DOCTYPE html>` aside.
fn parse(html: &str) -> Result<roxmltree::Document<'_>, roxmltree::Error> {
    let options = roxmltree::ParsingOptions { allow_dtd: true, ..roxmltree::ParsingOptions::default() };
    roxmltree::Document::parse_with_options(html, options)
}

fn no_external_references(html: &str) {
    for needle in ["http://", "https://", "src=", "@import", "url("] {
        assert!(!html.contains(needle), "the report must not reference `{needle}`");
    }
}

#[test]
fn a_small_run_has_a_lane_per_slot_a_bar_per_attempt_and_every_problem_with_its_output() {
    let mut run = Run::new(3, 4);
    let (ok, wobbly, broken, slow) = (
        fake::test("ok", |_| {}),
        fake::test("wobbly", |_| {}),
        fake::test("broken", |_| {}),
        fake::test("slow", |_| {}),
    );
    run.attempt(&ok, 0, 1, 1, Outcome::Pass, ms(0), ms(5), b"");
    run.attempt(&wobbly, 1, 1, 2, Outcome::Fail(ExitStatus::Code(101)), ms(0), ms(30), b"first try went wrong\n");
    run.attempt(&wobbly, 1, 2, 2, Outcome::Pass, ms(40), ms(30), b"");
    let nasty =
        b"thread 'broken' panicked at src/lib.rs:1:1:\n<script>alert(1)</script> & \x1b[31mred\x1b[0m \x07bell \xff\n";
    run.attempt(&broken, 2, 1, 1, Outcome::Fail(ExitStatus::Code(101)), ms(10), ms(20), nasty);
    run.attempt(&slow, 0, 1, 1, Outcome::Timeout, ms(10), ms(200), b"");
    let html = run.html();
    let doc = parse(&html).expect("the report is well-formed XML");
    no_external_references(&html);

    let lanes = doc.descendants().filter(|n| n.attribute("class") == Some("lane")).count();
    assert_eq!(lanes, 3);
    let mut drawn = bars(&doc);
    drawn.sort();
    let expected = [(0, "ok", 1), (0, "slow", 1), (1, "wobbly", 1), (1, "wobbly", 1), (2, "broken", 1)];
    let drawn_ref: Vec<(usize, &str, usize)> = drawn.iter().map(|(s, n, c)| (*s, n.as_str(), *c)).collect();
    assert_eq!(drawn_ref, expected);

    let group = |id: &str| -> Vec<String> {
        doc.descendants()
            .find(|n| n.attribute("id") == Some(id))
            .map(|g| {
                g.descendants()
                    .filter(|n| n.has_tag_name("article"))
                    .map(|a| a.attribute("data-name").unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(group("failed"), ["broken"]);
    assert_eq!(group("timed-out"), ["slow"]);
    assert_eq!(group("flaky"), ["wobbly"]);
    // The output is there, escaped: colour codes dropped, other control codes shown.
    let pre: Vec<&str> = doc.descendants().filter(|n| n.has_tag_name("pre")).filter_map(|n| n.text()).collect();
    assert!(pre.iter().any(|t| t.contains("<script>alert(1)</script> & red \\u{7}bell \u{fffd}")), "{pre:?}");
    assert!(pre.iter().any(|t| t.contains("first try went wrong")), "{pre:?}");
    assert!(!html.contains("<script>alert"), "test output must be escaped");
    // The failing bars link to their entries.
    let links: Vec<&str> =
        doc.descendants().filter(|n| n.has_tag_name("a")).filter_map(|n| n.attribute("href")).collect();
    assert_eq!(links.len(), 4, "wobbly's two attempts, broken and slow link to their output: {links:?}");
    assert!(links.iter().all(|l| l.starts_with("#t")));
}

/// Regression: a test name's control characters made the report invalid XML.
#[test]
fn names_with_control_characters_are_escaped() {
    use crate::report::style::hostile;
    let mut run = Run::new(1, 1);
    let odd = fake::test(hostile::NAME, |_| {});
    run.attempt(&odd, 0, 1, 1, Outcome::Fail(ExitStatus::Code(101)), ms(0), ms(20), b"boom");
    let html = run.html();
    let doc = parse(&html).unwrap_or_else(|e| panic!("the report is not well-formed: {e}"));
    let names: Vec<&str> =
        doc.descendants().filter(|n| n.attribute("class") == Some("name")).filter_map(|n| n.text()).collect();
    assert!(names.contains(&hostile::SHOWN), "{names:?}");
    assert_eq!(bars(&doc)[0].1, hostile::SHOWN, "the bar's title names it on its first line");
}

#[test]
fn output_is_cut_to_its_head_and_tail() {
    let mut bytes = b"HEAD".to_vec();
    bytes.extend(std::iter::repeat_n(b'x', 100_000));
    bytes.extend_from_slice(b"panicked at the end");
    let text = clean_output(&CapturedOutput { bytes, dropped: 5 });
    assert!(text.starts_with("HEAD"));
    assert!(text.ends_with("panicked at the end"));
    let dropped = 100_000 + 4 + 19 - OUTPUT_HEAD - OUTPUT_TAIL + 5;
    assert!(
        text.contains(&format!("[… {dropped} bytes of output not shown …]")),
        "{}",
        &text[OUTPUT_HEAD..OUTPUT_HEAD + 80]
    );
    assert!(text.len() < OUTPUT_HEAD + OUTPUT_TAIL + 100);
}

#[test]
fn past_the_detailed_limit_failures_are_listed_without_output() {
    let n = MAX_DETAILED + 7;
    let mut run = Run::new(2, n);
    for i in 0..n {
        let t = fake::test(&format!("fails_{i:03}"), |_| {});
        run.attempt(&t, i % 2, 1, 1, Outcome::Fail(ExitStatus::Code(101)), ms(i as u64), ms(1), b"boom\n");
    }
    let html = run.html();
    let doc = parse(&html).expect("well-formed");
    let articles = doc.descendants().filter(|n| n.has_tag_name("article")).count();
    assert_eq!(articles, MAX_DETAILED);
    let listed: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("ul") && n.attribute("class") == Some("more"))
        .flat_map(|ul| ul.descendants().filter(|n| n.attribute("class") == Some("name")).filter_map(|n| n.text()))
        .collect();
    assert_eq!(listed.len(), 7);
    assert_eq!(listed[0], format!("fails_{MAX_DETAILED:03}"));
    // Memory stays bounded too: only the detailed tests kept their output.
    assert_eq!(run.reporter.attempts.iter().filter(|a| a.output.is_some()).count(), MAX_DETAILED);
}

#[test]
fn a_test_keeps_the_output_of_its_last_few_failed_attempts() {
    let mut run = Run::new(1, 1);
    let t = fake::test("keeps_failing", |_| {});
    for attempt in 1..=5 {
        let out = format!("attempt number {attempt}\n");
        let start = ms(u64::from(attempt) * 10);
        run.attempt(&t, 0, attempt, 5, Outcome::Fail(ExitStatus::Code(101)), start, ms(5), out.as_bytes());
    }
    let kept: Vec<u32> = run.reporter.attempts.iter().filter(|a| a.output.is_some()).map(|a| a.attempt).collect();
    assert_eq!(kept, [3, 4, 5]);
}

/// The 10,000-test case the report is designed for: thousands of short passing
/// attempts merge into a few bars per lane, failures keep their own, the file stays
/// small, and every attempt is still accounted for.
#[test]
fn ten_thousand_tests_stay_small_and_every_attempt_is_counted() {
    let (slots, n) = (8, 10_000);
    let mut run = Run::new(slots, n);
    let mut clock = vec![Duration::ZERO; slots];
    for i in 0..n {
        let slot = i % slots;
        // Mostly 1-3 ms tests, every 500th a 300 ms one, every 1,000th a failure.
        let d = if i % 500 == 0 { ms(300) } else { Duration::from_micros(1000 + (i as u64 * 37) % 2000) };
        let outcome = if i % 1000 == 7 { Outcome::Fail(ExitStatus::Code(101)) } else { Outcome::Pass };
        let t = fake::test(&format!("module_{:02}::test_{i:05}", i % 40), |_| {});
        run.attempt(&t, slot, 1, 1, outcome, clock[slot], d, b"assertion failed\n");
        clock[slot] += d + Duration::from_micros(150);
    }
    let started = std::time::Instant::now();
    let html = run.html();
    let took = started.elapsed();
    let doc = parse(&html).expect("well-formed");
    let drawn = bars(&doc);
    assert_eq!(drawn.iter().map(|b| b.2).sum::<usize>(), n, "every attempt is drawn, alone or merged");
    let failures = drawn.iter().filter(|b| b.1.starts_with("module_") && b.2 == 1).count();
    assert!(failures >= 10, "the 10 failures keep bars of their own");
    assert!(drawn.len() < 2_000, "{} bars: narrow passing attempts are merged", drawn.len());
    assert!(html.len() < 600_000, "the report is {} bytes", html.len());
    eprintln!("10,000 tests: {} bytes, {} bars, rendered in {took:?}", html.len(), drawn.len());
}

#[test]
fn a_retry_the_run_never_started_is_drawn_and_listed_as_a_failure() {
    let mut run = Run::new(1, 1);
    let t = fake::test("cut_short", |_| {});
    run.attempt(&t, 0, 1, 3, Outcome::Fail(ExitStatus::Code(101)), ms(0), ms(5), b"went wrong\n");
    let last = run.reporter.attempts[0].clone();
    assert!(last.retried, "a retry was planned");
    let result = ExecutionResult {
        outcome: last.outcome,
        exit: last.exit,
        start: last.start,
        duration: last.duration,
        usage: last.usage,
        stdout: CapturedOutput::default(),
        stderr: CapturedOutput::default(),
        error: None,
        leaked: false,
        batched: false,
        rerun: None,
        pressure: None,
    };
    let f = TestFinished { test: t.clone(), slot: 0, attempt: 1, max_attempts: 3, result, will_retry: true };
    run.reporter.report(&Event::RetryAbandoned(Box::new(f))).unwrap();
    run.stats.failed = 1;
    let html = run.html();
    let doc = parse(&html).expect("well-formed");
    let bar = doc.descendants().find(|n| n.has_tag_name("rect") && n.attribute("class") == Some("f"));
    assert!(bar.is_some(), "the abandoned attempt is a final failure, not a retried one");
    let article = doc.descendants().find(|n| n.has_tag_name("article")).expect("listed");
    assert_eq!(article.ancestors().find_map(|a| a.attribute("id").filter(|id| *id == "failed")), Some("failed"));
    assert!(html.contains("(retry cancelled)"));
}

#[test]
fn tests_the_history_calls_flaky_are_marked() {
    let mut history = History::default();
    let record = |outcome: &str| crate::history::RunRecord::plain(1, 1000, 500, outcome);
    history.record("pkg", "wobbly", "pkg", record("pass"));
    history.record("pkg", "wobbly", "pkg", record("fail"));
    history.record("pkg", "steady", "pkg", record("pass"));
    let flaky = known_flaky(&history);
    assert_eq!(flaky, HashSet::from([("pkg".to_owned(), "wobbly".to_owned())]));

    let mut run = Run::new(1, 2);
    run.reporter.known_flaky = flaky;
    for (i, name) in ["wobbly", "broken"].into_iter().enumerate() {
        let t = fake::test(name, |_| {});
        run.attempt(&t, 0, 1, 1, Outcome::Fail(ExitStatus::Code(101)), ms(i as u64 * 10), ms(5), b"");
    }
    let html = run.html();
    let doc = parse(&html).expect("well-formed");
    let badged: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("article"))
        .filter(|a| a.descendants().any(|n| n.attribute("class") == Some("badge")))
        .filter_map(|a| a.attribute("data-name"))
        .collect();
    assert_eq!(badged, ["wobbly"]);
}

#[test]
fn a_report_that_cannot_be_written_says_where_and_what_to_do() {
    let mut run = Run::new(1, 1);
    run.reporter.path = PathBuf::from("/dev/null/not-a-directory/report.html");
    let t = fake::test("ok", |_| {});
    run.attempt(&t, 0, 1, 1, Outcome::Pass, ms(0), ms(5), b"");
    let err = run.reporter.report(&Event::RunFinished(run.stats.clone())).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("failed to write the HTML report `/dev/null/not-a-directory/report.html`: "),
        "{message}"
    );
    assert!(message.contains("--report PATH") && message.contains("--no-report"), "{message}");
}
