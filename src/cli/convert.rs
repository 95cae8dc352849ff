//! The second of the two argument stages: turns clap's types into the plain settings
//! each stage owns, with defaults and the environment applied, so that no clap type
//! leaves the command line.

use std::ffi::OsString;

use crate::archive::{ArchiveOptions, ArchiveSource};
use crate::build::CargoOptions;
use crate::cmd::Request;
use crate::cmd::history::HistoryOptions;
use crate::cmd::list::ListOptions;
use crate::cmd::partition::PartitionOptions;
use crate::cmd::run::{FailFastFlag, HtmlReport, ReporterOverrides, RunOptions};
use crate::cmd::show_config::ShowConfigOptions;
use crate::config::ConfigOptions;
use crate::env::available_cores;
use crate::flaky::FlakyOptions;
use crate::junit_merge::JunitMergeOptions;
use crate::plan::concurrency::sweep_threads;
use crate::plan::selection::{NameFilter, RunIgnored, Selection};
use crate::report::list::ListFormat;
use crate::report::no_tests::NoTests;
use crate::report::style::Color;
use crate::report::terminal::MessageFormat;
use crate::tune::TuneOptions;

use super::{CargoArgs, ColorArg, Command, ConfigArgs, EngineArg, FilterArgs, ListArgs, ListFormatArg, RunArgs};

impl CargoOptions {
    fn from_args(a: CargoArgs) -> CargoOptions {
        let mut args: Vec<OsString> = Vec::new();
        let mut doc_args: Vec<OsString> = Vec::new();
        let mut push = |flag: &str, value: Option<&str>, for_doc: bool| {
            for list in if for_doc { vec![&mut args, &mut doc_args] } else { vec![&mut args] } {
                list.push(flag.into());
                if let Some(v) = value {
                    list.push(v.into());
                }
            }
        };
        for p in &a.packages {
            push("--package", Some(p), false);
        }
        for (on, flag, for_doc) in [
            (a.workspace, "--workspace", false),
            (a.lib, "--lib", false),
            (a.bins, "--bins", false),
            (a.tests, "--tests", false),
            (a.examples, "--examples", false),
            (a.benches, "--benches", false),
            (a.all_targets, "--all-targets", false),
            (a.all_features, "--all-features", true),
            (a.no_default_features, "--no-default-features", true),
            (a.release, "--release", true),
            (a.locked, "--locked", true),
            (a.offline, "--offline", true),
            (a.frozen, "--frozen", true),
        ] {
            if on {
                push(flag, None, for_doc);
            }
        }
        for (values, flag, for_doc) in [
            (&a.exclude, "--exclude", false),
            (&a.bin, "--bin", false),
            (&a.test, "--test", false),
            (&a.example, "--example", false),
            (&a.bench, "--bench", false),
            (&a.features, "--features", true),
        ] {
            for v in values {
                push(flag, Some(v), for_doc);
            }
        }
        if let Some(p) = &a.cargo_profile {
            push("--profile", Some(p), true);
        }
        for _ in 0..a.verbose {
            push("-v", None, false);
        }
        for (value, flag) in [(&a.target_dir, "--target-dir"), (&a.manifest_path, "--manifest-path")] {
            if let Some(v) = value {
                for list in [&mut args, &mut doc_args] {
                    list.push(flag.into());
                    list.push(v.into());
                }
            }
        }
        CargoOptions { args, manifest_path: a.manifest_path, target_dir: a.target_dir, doc_args }
    }
}

impl Selection {
    fn from_args(a: FilterArgs) -> Selection {
        let filtersets = a.filtersets.clone();
        let ignore_default_filter = a.ignore_default_filter;
        Selection { names: NameFilter::from_args(a), filtersets, ignore_default_filter }
    }
}

impl NameFilter {
    fn from_args(a: FilterArgs) -> NameFilter {
        let run_ignored = match a.run_ignored {
            _ if a.ignored => RunIgnored::Only,
            _ if a.include_ignored => RunIgnored::All,
            Some(super::RunIgnoredArg::Only) => RunIgnored::Only,
            Some(super::RunIgnoredArg::All) => RunIgnored::All,
            Some(super::RunIgnoredArg::Default) | None => RunIgnored::Default,
        };
        NameFilter { patterns: a.filters, exact: a.exact, skip: a.skip, run_ignored }
    }
}

impl From<ColorArg> for Color {
    fn from(c: ColorArg) -> Color {
        match c {
            ColorArg::Auto => Color::Auto,
            ColorArg::Always => Color::Always,
            ColorArg::Never => Color::Never,
        }
    }
}

impl Color {
    /// `--color` if given, else `CARGO_TERM_COLOR` (as cargo and nextest read it) if it
    /// holds `auto`, `always` or `never`, else `auto`. `auto` is decided later against
    /// the stream written to (see [`crate::report::style::use_color`]).
    pub fn resolve(flag: Option<ColorArg>, cargo_term_color: Option<&str>) -> Color {
        if let Some(flag) = flag {
            return flag.into();
        }
        match cargo_term_color {
            Some("always") => Color::Always,
            Some("never") => Color::Never,
            _ => Color::Auto,
        }
    }

    fn from_flag(flag: Option<ColorArg>) -> Color {
        Color::resolve(flag, std::env::var("CARGO_TERM_COLOR").ok().as_deref())
    }
}

impl ConfigOptions {
    fn from_args(a: ConfigArgs) -> ConfigOptions {
        let profile = a
            .profile
            .or_else(|| std::env::var("TEMPO_PROFILE").ok().filter(|s| !s.is_empty()))
            .or_else(|| std::env::var("NEXTEST_PROFILE").ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "default".into());
        ConfigOptions { profile, config_file: a.config_file }
    }
}

impl ArchiveSource {
    fn from_args(a: super::ArchiveSourceArgs) -> Option<ArchiveSource> {
        Some(ArchiveSource {
            file: a.archive_file?,
            workspace_remap: a.workspace_remap,
            extract_to: a.extract_to,
            extract_overwrite: a.extract_overwrite,
        })
    }
}

/// The first of `TEMPO_<name>` and `NEXTEST_<name>` that is set and parses.
fn from_env<T: std::str::FromStr>(name: &str) -> Option<T> {
    ["TEMPO_", "NEXTEST_"].iter().find_map(|prefix| std::env::var(format!("{prefix}{name}")).ok()?.parse().ok())
}

impl ReporterOverrides {
    fn from_args(a: super::ReporterArgs) -> ReporterOverrides {
        ReporterOverrides {
            status_level: a.status_level.or_else(|| from_env("STATUS_LEVEL")),
            final_status_level: a.final_status_level.or_else(|| from_env("FINAL_STATUS_LEVEL")),
            failure_output: a.failure_output.or_else(|| from_env("FAILURE_OUTPUT")),
            success_output: a.success_output.or_else(|| from_env("SUCCESS_OUTPUT")),
            group_by_binary: a.group_by_binary,
            hide_progress_bar: a.hide_progress_bar,
        }
    }
}

impl RunOptions {
    fn from_args(a: RunArgs) -> RunOptions {
        let capture = !a.no_capture;
        // clap keeps `--max-fail` apart from the other two.
        let fail_fast = if a.no_fail_fast {
            Some(FailFastFlag::Never)
        } else if a.fail_fast {
            Some(FailFastFlag::First)
        } else {
            a.max_fail.map(FailFastFlag::MaxFail)
        };
        RunOptions {
            cargo: CargoOptions::from_args(a.cargo),
            config: ConfigOptions::from_args(a.config),
            filter: Selection::from_args(a.filter),
            test_threads: a.test_threads,
            retries: a.retries,
            fail_fast,
            no_tests: match a.no_tests {
                super::NoTestsArg::Auto | super::NoTestsArg::Fail => NoTests::Fail,
                super::NoTestsArg::Warn => NoTests::Warn,
                super::NoTestsArg::Pass => NoTests::Pass,
            },
            capture,
            no_run: a.no_run,
            reporter: ReporterOverrides::from_args(a.reporter),
            failed_first: a.failed_first,
            pipeline: !a.no_pipeline,
            doc: a.doc,
            color: Color::from_flag(a.output.color),
            partition: a.partition,
            archive: ArchiveSource::from_args(a.archive),
            message_format: match a.message_format {
                super::RunFormatArg::Human => MessageFormat::Human,
                super::RunFormatArg::Json => MessageFormat::Json,
            },
            html_report: match (a.report, a.no_report) {
                (_, true) => HtmlReport::Off,
                (Some(path), false) => HtmlReport::At(path),
                (None, false) => HtmlReport::Default,
            },
        }
    }
}

impl ListOptions {
    fn from_args(a: ListArgs) -> ListOptions {
        ListOptions {
            cargo: CargoOptions::from_args(a.cargo),
            config: ConfigOptions::from_args(a.config),
            filter: Selection::from_args(a.filter),
            format: match a.message_format {
                ListFormatArg::Human => ListFormat::Human,
                ListFormatArg::Oneline => ListFormat::Oneline,
            },
            color: Color::from_flag(a.output.color),
            partition: a.partition,
            archive: ArchiveSource::from_args(a.archive),
            doc: a.doc,
        }
    }
}

/// Resolves a parsed command into the plain settings [`crate::cmd::dispatch`] runs.
pub fn request(command: Command) -> Request {
    match command {
        Command::Run(args) => Request::Run(RunOptions::from_args(args)),
        Command::List(args) => Request::List(ListOptions::from_args(args)),
        Command::History(a) => Request::History(HistoryOptions {
            cargo: CargoOptions::from_args(a.cargo),
            config: ConfigOptions::from_args(a.config),
            limit: a.limit,
        }),
        Command::Flaky(a) => Request::Flaky(FlakyOptions {
            cargo: CargoOptions::from_args(a.cargo),
            config: ConfigOptions::from_args(a.config),
            filter: Selection::from_args(a.filter),
            runs: a.runs,
            nextest: a.engine == EngineArg::Nextest,
            json: a.json,
            write: a.write,
            test_threads: a.test_threads,
        }),
        Command::Archive(a) => Request::Archive(ArchiveOptions {
            cargo: CargoOptions::from_args(a.cargo),
            archive_file: a.archive_file,
            zstd_level: a.zstd_level,
        }),
        Command::Partition(a) => Request::Partition(PartitionOptions {
            cargo: CargoOptions::from_args(a.cargo),
            config: ConfigOptions::from_args(a.config),
            filter: Selection::from_args(a.filter),
            shards: a.show,
        }),
        Command::JunitMerge(a) => {
            Request::JunitMerge(JunitMergeOptions { output: a.output, inputs: a.inputs, name: a.name })
        }
        Command::HistoryMerge(a) => Request::HistoryMerge { output: a.output, inputs: a.inputs },
        Command::Tune(a) => Request::Tune(TuneOptions {
            cargo: CargoOptions::from_args(a.cargo),
            config: ConfigOptions::from_args(a.config),
            filter: Selection::from_args(a.filter),
            threads: sweep_threads(&a.threads, available_cores()),
            repeat: a.repeat,
            nextest: a.engine == EngineArg::Nextest,
            tolerance: a.tolerance,
            write: a.write,
        }),
        Command::Watchdog { run_id } => Request::Watchdog { run_id },
        Command::ShowConfig(a) => Request::ShowConfig(ShowConfigOptions {
            cargo: CargoOptions::from_args(a.cargo),
            config: ConfigOptions::from_args(a.config),
            filter: Selection::from_args(a.filter),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_term_color_is_the_fallback_for_the_flag() {
        assert_eq!(Color::resolve(None, Some("always")), Color::Always);
        assert_eq!(Color::resolve(None, Some("never")), Color::Never);
        assert_eq!(Color::resolve(None, Some("auto")), Color::Auto);
        assert_eq!(Color::resolve(None, Some("sometimes")), Color::Auto, "a value cargo would reject is ignored");
        assert_eq!(Color::resolve(None, None), Color::Auto);
        assert_eq!(Color::resolve(Some(ColorArg::Never), Some("always")), Color::Never);
        assert_eq!(Color::resolve(Some(ColorArg::Auto), Some("always")), Color::Auto, "an explicit --color auto wins");
    }
}
