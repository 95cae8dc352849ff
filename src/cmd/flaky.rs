//! `cargo tempo flaky`: runs the selected tests N times with retries off, then
//! writes the verdicts and the suggested retries.

use std::io::Write;

use crate::error::{Error, Result, exit_code};
use crate::flaky::{
    FlakyOptions, Stopped, counts, entries, markdown, suggestion_text, suggestions, table, write_config, write_file,
};

/// `cargo tempo flaky`.
pub fn run(opts: FlakyOptions) -> Result<i32> {
    let engine = if opts.nextest { "cargo nextest run" } else { "tempo" };
    let collected = if opts.nextest {
        crate::engine::flaky::nextest::run(&opts)?
    } else {
        crate::engine::flaky::in_process::run(&opts)?
    };
    let c = match collected {
        Ok(c) => c,
        Err(Stopped::NoTests) => return Ok(exit_code::NO_TESTS_RUN),
        Err(Stopped::Signal(sig)) => return Ok(128 + sig),
    };
    let entries = entries(&c.tallies);
    let suggested = suggestions(&entries);
    let json_path = opts.json.clone().unwrap_or_else(|| c.report_dir.join("flaky.json"));
    let md_path = c.report_dir.join("flaky.md");
    let json = serde_json::to_vec_pretty(&entries)
        .map_err(|e| Error::WriteFile { path: json_path.clone(), source: std::io::Error::other(e) })?;
    write_file(&json_path, &json)?;
    write_file(&md_path, markdown(&entries, c.runs, engine, &c.profile, &suggested).as_bytes())?;

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let [flaky, broken, stable] = counts(&entries);
    let mut text = format!("{} tests, {} runs each with retries off ({engine})\n", entries.len(), c.runs);
    text.push_str(&table(&entries));
    text.push_str(&format!("reports: {} and {}\n", md_path.display(), json_path.display()));
    if !suggested.is_empty() {
        if opts.write {
            let added = write_config(&c.config_file, &c.profile, &suggested)?;
            text.push_str(&format!(
                "added {added} override{} with retries for the flaky tests to {}\n",
                if added == 1 { "" } else { "s" },
                c.config_file.display()
            ));
        } else {
            text.push_str(&format!(
                "suggested overrides for the flaky tests (--write adds them to {}):\n\n{}\n",
                c.config_file.display(),
                suggestion_text(&c.profile, &suggested)
            ));
        }
    }
    text.push_str(&format!("tempo flaky: {flaky} flaky, {broken} broken, {stable} stable\n"));
    out.write_all(text.as_bytes()).and_then(|()| out.flush()).map_err(Error::Output)?;
    Ok(if flaky + broken > 0 { exit_code::FLAKY_TESTS_FOUND } else { exit_code::OK })
}
