//! Puts together what a run shows people and programs: which stream each output goes
//! to, whether a progress bar is drawn, whether lines are grouped by binary.
//!
//! The decisions, in one place:
//! - Human output goes to stdout, or to stderr under `--message-format json`, so that
//!   stdout holds nothing but JSON lines.
//! - The progress bar is drawn on stderr, and only when both stdout and stderr are
//!   terminals (so `cargo tempo run | tee log` and `> log` get no bar, and no escape
//!   codes land in the log), `TERM` is not `dumb`, the output is human, tests' output
//!   is captured (`--no-capture` writes straight to the terminal, under the bar), and
//!   `--hide-progress-bar` is not given.

use std::io::{IsTerminal, Write};

use indicatif::ProgressBar;

use super::SharedBuffer;
use super::grouped::GroupedReporter;
use super::human::{HumanOptions, HumanReporter};
use super::json::JsonReporter;
use super::progress::{ProgressReporter, stderr_bar};
use super::style::Color;
use super::style::{Styles, use_color};
use crate::events::Reporter;

/// What the terminal and stdout should show.
#[derive(Debug, Clone)]
pub struct TerminalOptions {
    /// The human reporter's settings; `colored` and `terminal` are filled in here.
    pub human: HumanOptions,
    /// `--color`, resolved against the stream the human output goes to.
    pub color: Color,
    /// Human output or JSON events.
    pub format: MessageFormat,
    /// `--group-by-binary`.
    pub group_by_binary: bool,
    /// `--hide-progress-bar`.
    pub hide_progress_bar: bool,
    /// Whether tests' output is captured (not `--no-capture`).
    pub capture: bool,
}

/// The reporters for the terminal and stdout.
pub struct Terminal {
    /// The human reporter, wrapped as the options ask, and the JSON one in JSON mode.
    pub reporters: Vec<Box<dyn Reporter>>,
    /// The progress bar, when one is drawn: whatever else writes to the terminal
    /// during the run must go through its `suspend`.
    pub bar: Option<ProgressBar>,
    /// Whether the human output is coloured.
    pub colored: bool,
    /// Whether a person is watching the human output at a terminal.
    pub watched: bool,
}

/// Whether a progress bar may be drawn, by the rules in this module's documentation.
fn bar_allowed(opts: &TerminalOptions, stdout_tty: bool, stderr_tty: bool) -> bool {
    let dumb = std::env::var_os("TERM").is_none_or(|t| t.is_empty() || t == "dumb");
    opts.format == MessageFormat::Human && !opts.hide_progress_bar && opts.capture && stdout_tty && stderr_tty && !dumb
}

/// Builds the reporters for `opts`.
pub fn terminal(opts: TerminalOptions) -> Terminal {
    let (stdout_tty, stderr_tty) = (std::io::stdout().is_terminal(), std::io::stderr().is_terminal());
    let json = opts.format == MessageFormat::Json;
    let human_tty = if json { stderr_tty } else { stdout_tty };
    let colored = use_color(opts.color, human_tty);
    let human_opts = HumanOptions { colored, terminal: human_tty, ..opts.human.clone() };
    let styles = if colored { Styles::colored() } else { Styles::default() };
    let out: Box<dyn Write> = if json {
        Box::new(std::io::LineWriter::new(std::io::stderr()))
    } else {
        Box::new(std::io::LineWriter::new(std::io::stdout().lock()))
    };
    let bar = bar_allowed(&opts, stdout_tty, stderr_tty).then(stderr_bar);

    let mut reporters: Vec<Box<dyn Reporter>> = Vec::new();
    if json {
        reporters.push(Box::new(JsonReporter::new(std::io::stdout().lock())));
    }
    let human: Box<dyn Reporter> = match (&bar, opts.group_by_binary) {
        (None, false) => Box::new(HumanReporter::new(out, human_opts)),
        (None, true) => {
            let pending = SharedBuffer::default();
            let inner = Box::new(HumanReporter::new(pending.clone(), human_opts));
            Box::new(GroupedReporter::new(inner, pending, out, styles))
        }
        (Some(bar), group) => {
            let pending = SharedBuffer::default();
            let mut inner: Box<dyn Reporter> = Box::new(HumanReporter::new(pending.clone(), human_opts.clone()));
            if group {
                let grouped_pending = SharedBuffer::default();
                let human = Box::new(HumanReporter::new(grouped_pending.clone(), human_opts));
                inner = Box::new(GroupedReporter::new(human, grouped_pending, pending.clone(), styles));
            }
            Box::new(ProgressReporter::new(bar.clone(), inner, pending, out, &styles))
        }
    };
    reporters.push(human);
    Terminal { reporters, bar, colored, watched: human_tty }
}

/// How `cargo tempo run` reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MessageFormat {
    /// Status lines and a summary on stdout.
    #[default]
    Human,
    /// JSON events on stdout; the human output goes to stderr.
    Json,
}
