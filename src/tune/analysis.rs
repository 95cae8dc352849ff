//! Turns a sweep's samples into what `tune` reports: one row per setting (median, min
//! and max wall time, CPU use) and the recommended thread count, with the figures
//! that decided it. Kept apart from running so that the rule can be tested on numbers.

use serde::{Deserialize, Serialize};

use super::{Sample, Setting};

/// One setting's line of the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The setting as written: a thread count, or a word for a setting that is not one.
    pub setting: String,
    /// The thread count, for a setting that is one.
    pub threads: Option<usize>,
    /// Every measured run, in the order they ran.
    pub runs: Vec<Sample>,
    /// The median wall time, in seconds.
    pub median_wall_s: f64,
    /// The quickest run's wall time, in seconds.
    pub min_wall_s: f64,
    /// The slowest run's wall time, in seconds.
    pub max_wall_s: f64,
    /// 1 − median ÷ the baseline's median: the share of the baseline's wall time saved
    /// (negative when slower). `None` for the baseline itself.
    pub reduction: Option<f64>,
    /// CPU ÷ (wall × cores) over all the runs, 0 to 1.
    pub cpu_utilization: f64,
    /// CPU ÷ wall over all the runs: the average number of busy cores.
    pub busy_cores: f64,
}

/// A thread count that was measured but not recommended, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Considered {
    /// The thread count.
    pub threads: usize,
    /// Its median wall time, in seconds.
    pub median_wall_s: f64,
    /// How far its median is above the best: median ÷ best − 1.
    pub above_best: f64,
}

/// The recommended thread count and the figures that decided it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The smallest count whose median is within the tolerance of the best median.
    pub threads: usize,
    /// Its median wall time, in seconds.
    pub median_wall_s: f64,
    /// How far its median is above the best: median ÷ best − 1.
    pub above_best: f64,
    /// The count with the best (lowest) median.
    pub best_threads: usize,
    /// The best median, in seconds.
    pub best_median_wall_s: f64,
    /// The largest smaller count, which was too slow to be recommended.
    pub next_smaller: Option<Considered>,
}

/// Everything `tune` found: the JSON report is this structure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuneReport {
    /// `tempo` or `cargo nextest run`.
    pub engine: String,
    /// The profile the runs used.
    pub profile: String,
    /// The cores available.
    pub cores: usize,
    /// How many tests each run ran.
    pub tests: usize,
    /// Measured runs per setting (after one warm-up run).
    pub repeat: u32,
    /// The tolerance of the recommendation, as a fraction.
    pub tolerance: f64,
    /// The thread count the reductions are measured against: the smallest measured.
    pub baseline_threads: Option<usize>,
    /// One row per setting, thread counts in increasing order.
    pub rows: Vec<Row>,
    /// The recommendation, when at least one thread count was measured.
    pub recommendation: Option<Recommendation>,
    /// What adaptive concurrency learned of the tests by the end of the sweep (tempo's
    /// engine only), to read beside its row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learned: Option<String>,
}

/// The median of some values (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The smallest thread count whose median is within `tolerance` of the best median.
/// Past the point where the suite stops getting faster, more threads only add load
/// (and, for tests that share resources, more chances to collide), so among counts
/// that are as good as the best within the noise, the smallest wins.
pub fn recommend(rows: &[Row], tolerance: f64) -> Option<Recommendation> {
    let mut counted: Vec<(usize, f64)> =
        rows.iter().filter(|r| !r.runs.is_empty()).filter_map(|r| Some((r.threads?, r.median_wall_s))).collect();
    counted.sort_by_key(|(threads, _)| *threads);
    let (best_threads, best) = counted.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))?;
    let above = |median: f64| if best > 0.0 { median / best - 1.0 } else { 0.0 };
    let limit = best * (1.0 + tolerance);
    let at = counted.iter().position(|(_, median)| *median <= limit).expect("the best is within any tolerance");
    let (threads, median_wall_s) = counted[at];
    let next_smaller = at.checked_sub(1).map(|i| Considered {
        threads: counted[i].0,
        median_wall_s: counted[i].1,
        above_best: above(counted[i].1),
    });
    Some(Recommendation {
        threads,
        median_wall_s,
        above_best: above(median_wall_s),
        best_threads,
        best_median_wall_s: best,
        next_smaller,
    })
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn percent(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

impl TuneReport {
    /// Summarises the samples of each setting. The settings come in the order they are
    /// to be shown; the thread counts should be increasing.
    pub fn new(
        engine: &str,
        profile: &str,
        cores: usize,
        tests: usize,
        repeat: u32,
        tolerance: f64,
        samples: Vec<(Setting, Vec<Sample>)>,
    ) -> TuneReport {
        let cores = cores.max(1);
        let mut rows: Vec<Row> = samples
            .into_iter()
            .filter(|(_, runs)| !runs.is_empty())
            .map(|(setting, runs)| {
                let walls: Vec<f64> = runs.iter().map(|s| s.wall_s).collect();
                let wall: f64 = walls.iter().sum();
                let cpu: f64 = runs.iter().map(|s| s.cpu_s).sum();
                Row {
                    setting: setting.label(),
                    threads: setting.threads(),
                    median_wall_s: median(&walls),
                    min_wall_s: walls.iter().copied().fold(f64::INFINITY, f64::min),
                    max_wall_s: walls.iter().copied().fold(0.0, f64::max),
                    reduction: None,
                    cpu_utilization: if wall > 0.0 { cpu / (wall * cores as f64) } else { 0.0 },
                    busy_cores: if wall > 0.0 { cpu / wall } else { 0.0 },
                    runs,
                }
            })
            .collect();
        let baseline =
            rows.iter().filter_map(|r| Some((r.threads?, r.median_wall_s))).min_by_key(|(threads, _)| *threads);
        for row in &mut rows {
            row.reduction = match baseline {
                Some((threads, base)) if row.threads != Some(threads) && base > 0.0 => {
                    Some(1.0 - row.median_wall_s / base)
                }
                _ => None,
            };
        }
        let recommendation = recommend(&rows, tolerance);
        TuneReport {
            engine: engine.into(),
            profile: profile.into(),
            cores,
            tests,
            repeat,
            tolerance,
            baseline_threads: baseline.map(|(threads, _)| threads),
            rows,
            recommendation,
            learned: None,
        }
    }

    fn baseline_label(&self) -> String {
        self.baseline_threads.map_or_else(|| "baseline".into(), |n| plural(n, "thread"))
    }

    fn reduction_text(row: &Row) -> String {
        match row.reduction {
            None => "base".into(),
            Some(r) if r >= 0.0 => format!("{} less", percent(r)),
            Some(r) => format!("{} more", percent(-r)),
        }
    }

    /// The line that opens the text and the Markdown.
    fn context(&self) -> String {
        format!(
            "{}, {} at each of {} after a warm-up run ({}, profile `{}`, {})",
            plural(self.tests, "test"),
            plural(self.repeat as usize, "run"),
            plural(self.rows.len(), "setting"),
            self.engine,
            self.profile,
            plural(self.cores, "core")
        )
    }

    /// `recommended test-threads = N: ...`, with the figures that decided it.
    pub fn recommendation_line(&self) -> Option<String> {
        let r = self.recommendation.as_ref()?;
        let tolerance = format!("tolerance {}", percent(self.tolerance));
        let mut line = if r.threads == r.best_threads {
            format!("recommended test-threads = {}: the best median, {:.3}s ({tolerance})", r.threads, r.median_wall_s)
        } else {
            format!(
                "recommended test-threads = {}: median {:.3}s, {} above the best, {:.3}s at {} ({tolerance})",
                r.threads,
                r.median_wall_s,
                percent(r.above_best),
                r.best_median_wall_s,
                plural(r.best_threads, "thread")
            )
        };
        if let Some(c) = &r.next_smaller {
            line.push_str(&format!(
                "; {}: {:.3}s, {} above the best",
                plural(c.threads, "thread"),
                c.median_wall_s,
                percent(c.above_best)
            ));
        }
        // Settings that are not a count (adaptive) are compared with the best count.
        for row in self.rows.iter().filter(|r| r.threads.is_none() && !r.runs.is_empty()) {
            let vs = row.median_wall_s / r.best_median_wall_s.max(f64::MIN_POSITIVE) - 1.0;
            line.push_str(&format!(
                "; {}: {:.3}s, {} {} the best count",
                row.setting,
                row.median_wall_s,
                percent(vs.abs()),
                if vs <= 0.0 { "below" } else { "above" }
            ));
        }
        Some(line)
    }

    /// The table and the recommendation, for the terminal.
    pub fn text(&self) -> String {
        let vs = format!("vs {}", self.baseline_label());
        let w = vs.len().max(12);
        let mut out = format!("tune: {}\n", self.context());
        out.push_str(&format!(
            "{:>8}  {:>9}  {:>9}  {:>9}  {:>w$}  {:>8}  {:>10}\n",
            "threads", "median", "min", "max", vs, "cpu util", "busy cores"
        ));
        for row in &self.rows {
            out.push_str(&format!(
                "{:>8}  {:>8.3}s  {:>8.3}s  {:>8.3}s  {:>w$}  {:>8}  {:>10.2}\n",
                row.setting,
                row.median_wall_s,
                row.min_wall_s,
                row.max_wall_s,
                Self::reduction_text(row),
                format!("{:.0}%", 100.0 * row.cpu_utilization),
                row.busy_cores
            ));
        }
        if let Some(line) = self.recommendation_line() {
            out.push_str(&line);
            out.push('\n');
        }
        if let Some(learned) = &self.learned {
            out.push_str(&format!("adaptive learned: {learned}\n"));
        }
        out
    }

    /// The Markdown report: the same table, the recommendation and the chart.
    pub fn markdown(&self) -> String {
        let mut md = format!(
            "# Thread-count sweep\n\n{}. Wall times are medians over the runs; CPU utilization is \
             CPU time ÷ (wall time × cores).\n\n| threads | median | min | max | vs {} | CPU utilization | busy cores |\n\
             |---:|---:|---:|---:|---:|---:|---:|\n",
            self.context(),
            self.baseline_label()
        );
        for row in &self.rows {
            md.push_str(&format!(
                "| {} | {:.3} s | {:.3} s | {:.3} s | {} | {:.0}% | {:.2} |\n",
                row.setting,
                row.median_wall_s,
                row.min_wall_s,
                row.max_wall_s,
                Self::reduction_text(row),
                100.0 * row.cpu_utilization,
                row.busy_cores
            ));
        }
        if let Some(line) = self.recommendation_line() {
            md.push_str(&format!("\n**{line}**\n"));
        }
        if let Some(learned) = &self.learned {
            md.push_str(&format!("\nAdaptive concurrency learned: {learned}.\n"));
        }
        md.push_str("\n![wall time and CPU utilization against the thread count](tune.svg)\n");
        md
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(walls: &[f64], cpu_per_run: f64) -> Vec<Sample> {
        walls.iter().map(|w| Sample { wall_s: *w, cpu_s: cpu_per_run }).collect()
    }

    fn report(rows: &[(usize, &[f64])], tolerance: f64) -> TuneReport {
        let samples = rows.iter().map(|(n, walls)| (Setting::Threads(*n), runs(walls, 1.0))).collect();
        TuneReport::new("tempo", "default", 2, 8, 3, tolerance, samples)
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[7.0]), 7.0);
    }

    #[test]
    fn rows_summarise_the_runs_against_the_smallest_count() {
        let r = report(&[(1, &[4.0, 4.4, 3.6]), (2, &[2.0, 2.2, 1.8])], 0.05);
        assert_eq!(r.baseline_threads, Some(1));
        let two = &r.rows[1];
        assert_eq!((two.median_wall_s, two.min_wall_s, two.max_wall_s), (2.0, 1.8, 2.2));
        assert_eq!(two.reduction, Some(0.5));
        assert_eq!(r.rows[0].reduction, None);
        // 3 s of CPU over 6 s of wall on 2 cores.
        assert!((two.cpu_utilization - 0.25).abs() < 1e-9);
        assert!((two.busy_cores - 0.5).abs() < 1e-9);
    }

    #[test]
    fn the_smallest_count_within_the_tolerance_of_the_best_wins() {
        let r = report(&[(1, &[8.0]), (2, &[4.0]), (4, &[2.06]), (8, &[2.0]), (16, &[2.3])], 0.05);
        let rec = r.recommendation.clone().unwrap();
        assert_eq!((rec.threads, rec.best_threads), (4, 8));
        assert!((rec.above_best - 0.03).abs() < 1e-9);
        assert_eq!(rec.next_smaller.as_ref().map(|c| c.threads), Some(2));
        let line = r.recommendation_line().unwrap();
        assert_eq!(
            line,
            "recommended test-threads = 4: median 2.060s, 3.0% above the best, 2.000s at 8 threads \
             (tolerance 5.0%); 2 threads: 4.000s, 100.0% above the best"
        );
    }

    #[test]
    fn with_no_tolerance_the_best_count_wins() {
        let r = report(&[(1, &[8.0]), (2, &[4.0]), (4, &[2.06]), (8, &[2.0])], 0.0);
        let rec = r.recommendation.unwrap();
        assert_eq!((rec.threads, rec.best_threads), (8, 8));
    }

    #[test]
    fn the_best_count_is_the_smallest_of_equal_medians() {
        let r = report(&[(1, &[1.0]), (2, &[1.0])], 0.0);
        assert_eq!(r.recommendation.unwrap().threads, 1);
    }

    #[test]
    fn the_text_has_one_row_per_setting_and_the_recommendation_last() {
        let r = report(&[(1, &[4.0]), (2, &[2.0]), (4, &[2.2])], 0.05);
        let text = r.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "tune: 8 tests, 3 runs at each of 3 settings after a warm-up run (tempo, profile `default`, 2 cores)"
        );
        assert_eq!(lines[1], " threads     median        min        max   vs 1 thread  cpu util  busy cores");
        assert_eq!(lines[2], "       1     4.000s     4.000s     4.000s          base       12%        0.25");
        assert_eq!(lines[4], "       4     2.200s     2.200s     2.200s    45.0% less       23%        0.45");
        assert!(lines[5].starts_with("recommended test-threads = 2: the best median, 2.000s"), "{text}");
        let md = r.markdown();
        assert!(md.contains("| 2 | 2.000 s | 2.000 s | 2.000 s | 50.0% less | 25% | 0.50 |"), "{md}");
    }

    /// Regression: a baseline of 16 threads made the header wider than its column.
    #[test]
    fn the_columns_stay_aligned_whatever_the_baseline() {
        let text = report(&[(16, &[4.0]), (32, &[12.0])], 0.05).text();
        let widths: Vec<usize> = text.lines().skip(1).take(3).map(str::len).collect();
        assert_eq!(widths, [widths[0]; 3], "{text}");
        assert!(text.contains("vs 16 threads") && text.contains("200.0% more"), "{text}");
    }

    #[test]
    fn a_row_that_is_not_a_count_is_shown_but_not_recommended() {
        let mut r = report(&[(1, &[4.0]), (2, &[2.0])], 0.05);
        let mut other = r.rows[1].clone();
        other.setting = "adaptive".into();
        other.threads = None;
        other.median_wall_s = 1.0;
        r.rows.push(other);
        assert_eq!(recommend(&r.rows, 0.05).unwrap().threads, 2);
    }
}
