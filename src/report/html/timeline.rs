//! The report's charts, drawn as inline SVG: the slots' timeline, the CPU
//! utilization and the number of tests running, all on one time axis.
//!
//! Hand-written SVG rather than a charting crate: three simple charts need a few
//! hundred lines, no dependency, and the output stays small and readable (and
//! parseable as XML by the tests).

use std::fmt::Write as _;
use std::time::Duration;

use super::{Class, esc, fmt_dur};

/// Above this many attempts, runs of passing attempts narrower than a pixel are drawn
/// as one bar each, so that a run of 10,000 tests does not become 10,000 elements
/// nobody can tell apart. Up to it every attempt has its own bar, which is what a
/// reader hovering over a small run expects.
pub const MERGE_ABOVE: usize = 2_000;
/// How many time buckets the CPU and running-tests charts have.
const BUCKETS: usize = 300;
/// The drawing's width in SVG units; the page scales it to the window.
const WIDTH: f64 = 1200.0;
/// Room on the left for the slot labels.
const LEFT: f64 = 64.0;
/// Room on the right for each slot's idle time.
const RIGHT: f64 = 76.0;
/// Bars narrower than this (in SVG units) may be merged with their neighbours.
const MERGE_NARROWER: f64 = 1.0;

/// One attempt on the timeline.
pub struct Bar {
    pub slot: usize,
    pub start: Duration,
    pub duration: Duration,
    pub cpu: Duration,
    pub class: Class,
    pub title: String,
    /// The index of its test's entry in the failure list, to link to.
    pub anchor: Option<usize>,
}

/// Everything the charts show.
pub struct Timeline<'a> {
    pub bars: &'a [Bar],
    pub slots: usize,
    pub cores: usize,
    pub adaptive: bool,
    pub wall: Duration,
    pub lower_bound: Duration,
    pub slot_idle: Vec<Duration>,
}

/// The time axis: seconds to SVG x.
struct Axis {
    span: f64,
}

impl Axis {
    fn x(&self, secs: f64) -> f64 {
        LEFT + secs / self.span * (WIDTH - LEFT - RIGHT)
    }

    fn plot_width(&self) -> f64 {
        WIDTH - LEFT - RIGHT
    }

    /// Round tick positions: 1, 2 or 5 times a power of ten, about eight of them.
    fn ticks(&self) -> (f64, Vec<f64>) {
        let raw = self.span / 8.0;
        let mag = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
        let n = (self.span / step).floor() as usize;
        (step, (0..=n).map(|i| i as f64 * step).collect())
    }

    fn label(step: f64, t: f64) -> String {
        if step >= 1.0 {
            format!("{t:.0} s")
        } else if step >= 0.1 {
            format!("{t:.1} s")
        } else if step >= 0.01 {
            format!("{t:.2} s")
        } else {
            format!("{:.0} ms", t * 1000.0)
        }
    }
}

/// What the CPU and running-tests charts plot: per time bucket, the attempts' CPU
/// (each attempt's CPU time spread evenly over its duration) and how many attempts
/// ran on average.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    /// The bucket width, in seconds.
    pub width: f64,
    /// Per bucket, the cores busy on average.
    pub cores_busy: Vec<f64>,
    /// Per bucket, the tests running on average.
    pub running: Vec<f64>,
}

impl Load {
    /// Spreads each (start, duration, CPU) over `buckets` buckets across `span` seconds.
    pub fn compute(attempts: impl Iterator<Item = (Duration, Duration, Duration)>, span: f64, buckets: usize) -> Load {
        let width = span / buckets as f64;
        let mut cpu = vec![0.0; buckets];
        let mut running = vec![0.0; buckets];
        for (start, duration, used) in attempts {
            let (s, d) = (start.as_secs_f64(), duration.as_secs_f64());
            if d <= 0.0 || width <= 0.0 {
                continue;
            }
            let e = s + d;
            let rate = used.as_secs_f64() / d;
            let first = ((s / width).floor() as usize).min(buckets - 1);
            let last = ((e / width).ceil() as usize).clamp(first + 1, buckets);
            for i in first..last {
                let (b0, b1) = (i as f64 * width, (i + 1) as f64 * width);
                let overlap = e.min(b1) - s.max(b0);
                if overlap > 0.0 {
                    cpu[i] += rate * overlap;
                    running[i] += overlap;
                }
            }
        }
        Load {
            width,
            cores_busy: cpu.iter().map(|c| c / width).collect(),
            running: running.iter().map(|r| r / width).collect(),
        }
    }
}

/// A bar as drawn: one attempt, or a run of narrow passing attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct Drawn {
    pub x: f64,
    pub width: f64,
    /// Indices into the bars.
    pub first: usize,
    /// How many attempts it stands for (1 unless merged).
    pub count: usize,
    /// Whether every attempt in it ran in a batch.
    pub batched: bool,
    pub end: f64,
}

/// Lays out one lane's bars (indices into `bars`, sorted by start), merging runs of
/// narrow passing attempts when `merge` is set.
fn layout(bars: &[Bar], lane: &[usize], axis: &Axis, merge: bool) -> Vec<Drawn> {
    let mut out: Vec<Drawn> = Vec::new();
    let mut group: Option<Drawn> = None;
    let mut members: Vec<usize> = Vec::new();
    for &i in lane {
        let b = &bars[i];
        let x0 = axis.x(b.start.as_secs_f64());
        let x1 = axis.x((b.start + b.duration).as_secs_f64());
        let mergeable = merge && matches!(b.class, Class::Pass | Class::Batched) && x1 - x0 < MERGE_NARROWER;
        if mergeable {
            match &mut group {
                Some(g) if x0 - g.end < MERGE_NARROWER => {
                    g.end = g.end.max(x1);
                    g.count += 1;
                    g.batched &= b.class == Class::Batched;
                    members.push(i);
                    continue;
                }
                _ => {}
            }
            if let Some(g) = group.take() {
                out.push(g);
            }
            members.clear();
            members.push(i);
            group = Some(Drawn { x: x0, width: 0.0, first: i, count: 1, batched: b.class == Class::Batched, end: x1 });
            continue;
        }
        if let Some(g) = group.take() {
            out.push(g);
        }
        out.push(Drawn { x: x0, width: 0.0, first: i, count: 1, batched: b.class == Class::Batched, end: x1 });
    }
    if let Some(g) = group.take() {
        out.push(g);
    }
    for d in &mut out {
        d.width = (d.end - d.x).max(0.4);
    }
    out
}

impl Timeline<'_> {
    /// The time axis's span: the wall time, or the last attempt's end if later.
    fn span(&self) -> f64 {
        let last = self.bars.iter().map(|b| (b.start + b.duration).as_secs_f64()).fold(0.0, f64::max);
        last.max(self.wall.as_secs_f64()).max(self.lower_bound.as_secs_f64()).max(1e-6)
    }

    /// Writes the three charts.
    pub fn render(&self, out: &mut String) {
        let axis = Axis { span: self.span() };
        self.lanes(out, &axis);
        let load = Load::compute(self.bars.iter().map(|b| (b.start, b.duration, b.cpu)), axis.span, BUCKETS);
        let utilization: Vec<f64> = load.cores_busy.iter().map(|c| c / self.cores as f64).collect();
        let top = utilization.iter().copied().fold(1.0, f64::max);
        let _ = writeln!(
            out,
            "<h3>CPU utilization <small>the tests' CPU time (each attempt's spread evenly over its duration) ÷ {} cores, per {}</small></h3>",
            self.cores,
            fmt_dur(Duration::from_secs_f64(load.width))
        );
        let marks = [(1.0, "100%".to_owned())];
        area_chart(out, "cpu", &axis, &utilization, top, &marks, |v| format!("{:.0}%", v * 100.0));
        let _ = writeln!(
            out,
            "<h3>Tests running <small>on average per {}{}</small></h3>",
            fmt_dur(Duration::from_secs_f64(load.width)),
            if self.adaptive {
                "; with adaptive concurrency fewer tests than slots run while their CPU demand fills the cores"
            } else {
                ""
            }
        );
        let mut marks = vec![(self.slots as f64, format!("{} slots", self.slots))];
        if self.adaptive && self.cores != self.slots {
            marks.push((self.cores as f64, format!("{} cores", self.cores)));
        }
        let top = load.running.iter().copied().fold(self.slots as f64, f64::max);
        area_chart(out, "running", &axis, &load.running, top, &marks, |v| format!("{v:.1}"));
    }

    // About 80 lines: one SVG group drawn in order (lanes, bars, labels), which reads
    // best as the picture it draws.
    fn lanes(&self, out: &mut String, axis: &Axis) {
        let lane_h = (360.0 / self.slots as f64).clamp(3.0, 18.0).floor();
        let top = 8.0;
        let height = top + lane_h * self.slots as f64 + 22.0;
        let _ = writeln!(
            out,
            "<svg id=\"lanes\" class=\"chart\" viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" height=\"{height}\" \
             preserveAspectRatio=\"xMinYMin meet\" role=\"img\" aria-label=\"timeline of the test slots\">"
        );
        grid(out, axis, top, top + lane_h * self.slots as f64);
        let mut per_lane: Vec<Vec<usize>> = vec![Vec::new(); self.slots];
        for (i, b) in self.bars.iter().enumerate() {
            per_lane[b.slot.min(self.slots - 1)].push(i);
        }
        let merge = self.bars.len() > MERGE_ABOVE;
        let label_every = (10.0 / lane_h).ceil().max(1.0) as usize;
        for (slot, lane) in per_lane.iter_mut().enumerate() {
            lane.sort_by_key(|i| self.bars[*i].start);
            let y = top + lane_h * slot as f64;
            let _ = writeln!(out, "<g class=\"lane\" data-slot=\"{slot}\" transform=\"translate(0,{y})\">");
            if slot % 2 == 1 {
                let _ = writeln!(
                    out,
                    "<rect class=\"stripe\" x=\"{LEFT}\" y=\"0\" width=\"{:.1}\" height=\"{lane_h}\"/>",
                    axis.plot_width()
                );
            }
            if slot % label_every == 0 {
                let ty = lane_h.min(12.0) * 0.8 + (lane_h - lane_h.min(12.0)) / 2.0;
                let _ = writeln!(out, "<text class=\"lbl\" x=\"{:.1}\" y=\"{ty:.1}\">slot {slot}</text>", LEFT - 6.0);
                if let Some(idle) = self.slot_idle.get(slot) {
                    let _ = writeln!(
                        out,
                        "<text class=\"idle\" x=\"{:.1}\" y=\"{ty:.1}\">idle {}</text>",
                        WIDTH - RIGHT + 6.0,
                        fmt_dur(*idle)
                    );
                }
            }
            let bar_h = (lane_h - 2.0).max(2.0);
            for d in layout(self.bars, lane, axis, merge) {
                let b = &self.bars[d.first];
                if d.count > 1 {
                    let class = if d.batched { Class::Batched } else { Class::Pass };
                    let _ = writeln!(
                        out,
                        "<rect class=\"{} m\" data-n=\"{}\" x=\"{:.1}\" y=\"1\" width=\"{:.2}\" height=\"{bar_h}\"><title>{} attempts that passed, each too short to draw, from {}</title></rect>",
                        class.css(),
                        d.count,
                        d.x,
                        d.width,
                        d.count,
                        fmt_dur(b.start)
                    );
                    continue;
                }
                let rect = format!(
                    "<rect class=\"{}\" x=\"{:.1}\" y=\"1\" width=\"{:.2}\" height=\"{bar_h}\"><title>{}</title></rect>",
                    b.class.css(),
                    d.x,
                    d.width,
                    esc(&b.title)
                );
                match b.anchor {
                    Some(n) => {
                        let _ = writeln!(out, "<a href=\"#t{n}\">{rect}</a>");
                    }
                    None => {
                        out.push_str(&rect);
                        out.push('\n');
                    }
                }
            }
            out.push_str("</g>\n");
        }
        let bound = axis.x(self.lower_bound.as_secs_f64());
        let bottom = top + lane_h * self.slots as f64;
        let _ = writeln!(
            out,
            "<line class=\"bound\" x1=\"{bound:.1}\" y1=\"{top}\" x2=\"{bound:.1}\" y2=\"{bottom}\"><title>lower bound: {}</title></line>",
            fmt_dur(self.lower_bound)
        );
        out.push_str("</svg>\n");
    }
}

/// Vertical grid lines and time labels from `y0` to `y1`.
fn grid(out: &mut String, axis: &Axis, y0: f64, y1: f64) {
    let (step, ticks) = axis.ticks();
    out.push_str("<g class=\"grid\">\n");
    for t in ticks {
        let x = axis.x(t);
        let _ = writeln!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{y0}\" x2=\"{x:.1}\" y2=\"{y1}\"/><text x=\"{x:.1}\" y=\"{:.1}\">{}</text>",
            y1 + 14.0,
            Axis::label(step, t)
        );
    }
    out.push_str("</g>\n");
}

/// A step-shaped area chart of `values` (one per bucket) from 0 to `top`, with
/// dashed reference lines at `marks`.
fn area_chart(
    out: &mut String,
    id: &str,
    axis: &Axis,
    values: &[f64],
    top: f64,
    marks: &[(f64, String)],
    fmt: impl Fn(f64) -> String,
) {
    let (y0, h) = (6.0, 90.0);
    let height = y0 + h + 22.0;
    let y = |v: f64| y0 + h - v / top.max(1e-9) * h;
    let _ = writeln!(
        out,
        "<svg id=\"{id}\" class=\"chart\" viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" height=\"{height}\" preserveAspectRatio=\"xMinYMin meet\" role=\"img\">"
    );
    grid(out, axis, y0, y0 + h);
    let width = axis.span / values.len().max(1) as f64;
    let mut path = format!("M{:.1} {:.1}", axis.x(0.0), y(0.0));
    for (i, v) in values.iter().enumerate() {
        let (x0, x1) = (axis.x(i as f64 * width), axis.x((i + 1) as f64 * width));
        let _ = write!(path, "L{x0:.1} {:.1}L{x1:.1} {:.1}", y(*v), y(*v));
    }
    let _ = write!(path, "L{:.1} {:.1}Z", axis.x(axis.span), y(0.0));
    let _ = writeln!(out, "<path class=\"area\" d=\"{path}\"/>");
    for (v, label) in marks {
        let _ = writeln!(
            out,
            "<line class=\"mark\" x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/><text class=\"idle\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            y(*v),
            WIDTH - RIGHT,
            y(*v),
            WIDTH - RIGHT + 6.0,
            y(*v) + 4.0,
            esc(label)
        );
    }
    let peak = values.iter().copied().fold(0.0, f64::max);
    let mean = if values.is_empty() { 0.0 } else { values.iter().sum::<f64>() / values.len() as f64 };
    let _ = writeln!(
        out,
        "<text class=\"lbl\" x=\"{:.1}\" y=\"{:.1}\">{}</text><text class=\"lbl\" x=\"{:.1}\" y=\"{:.1}\">0</text>\
         <title>peak {}, mean {}</title>",
        LEFT - 6.0,
        y(top) + 10.0,
        esc(&fmt(top)),
        LEFT - 6.0,
        y(0.0),
        esc(&fmt(peak)),
        esc(&fmt(mean))
    );
    out.push_str("</svg>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn cpu_is_spread_evenly_over_each_attempt() {
        // One attempt of 1 s using 0.5 s of CPU across buckets of 0.25 s, and one of
        // 0.25 s using a full core in the last bucket.
        let load = Load::compute([(ms(0), ms(1000), ms(500)), (ms(750), ms(250), ms(250))].into_iter(), 1.0, 4);
        assert_eq!(load.width, 0.25);
        let round = |v: &[f64]| v.iter().map(|x| (x * 1000.0).round() / 1000.0).collect::<Vec<_>>();
        assert_eq!(round(&load.cores_busy), [0.5, 0.5, 0.5, 1.5]);
        assert_eq!(round(&load.running), [1.0, 1.0, 1.0, 2.0]);
    }

    #[test]
    fn an_attempt_inside_one_bucket_counts_by_its_share() {
        let load = Load::compute([(ms(10), ms(20), ms(20))].into_iter(), 1.0, 10);
        assert!((load.running[0] - 0.2).abs() < 1e-9, "{:?}", load.running);
        assert!((load.cores_busy[0] - 0.2).abs() < 1e-9);
        assert!(load.running[1..].iter().all(|r| *r == 0.0));
    }

    #[test]
    fn ticks_are_round_numbers() {
        let (step, ticks) = Axis { span: 3.7 }.ticks();
        assert_eq!(step, 0.5);
        assert_eq!(ticks.len(), 8);
        assert_eq!(Axis::label(step, 1.5), "1.5 s");
        assert_eq!(Axis { span: 0.04 }.ticks().0, 0.005);
        assert_eq!(Axis::label(0.005, 0.015), "15 ms");
    }
}
