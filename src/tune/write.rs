//! Sets `test-threads` in a config file with toml_edit, so that `tune --write` keeps
//! the file's comments, key order and layout, and changes one value.

use std::path::Path;

use toml_edit::{DocumentMut, Item, Table, value};

use crate::error::{Error, Result};

/// Sets `profile.<profile>.test-threads = threads` in `text`, creating the profile's
/// table when it has none. A value already there keeps the comment after it.
pub fn set_test_threads(text: &str, profile: &str, threads: usize) -> std::result::Result<String, String> {
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| e.to_string())?;
    let profiles = doc.entry("profile").or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(true);
        Item::Table(t)
    });
    let profiles = profiles.as_table_like_mut().ok_or("`profile` is not a table")?;
    let this = profiles.entry(profile).or_insert(Item::Table(Table::new()));
    let this = this.as_table_like_mut().ok_or_else(|| format!("`profile.{profile}` is not a table"))?;
    let count = i64::try_from(threads).map_err(|_| format!("{threads} threads is too many to write"))?;
    let mut new = value(count);
    if let (Some(old), Some(new)) = (this.get("test-threads").and_then(Item::as_value), new.as_value_mut()) {
        *new.decor_mut() = old.decor().clone();
    }
    this.insert("test-threads", new);
    Ok(doc.to_string())
}

/// Writes `test-threads = threads` into the profile of the config file at `path`
/// (creating the file if needed). With `check_with_tempo`, the result must still be a
/// config tempo reads. Returns whether the file changed.
pub fn write_config(path: &Path, profile: &str, threads: usize, check_with_tempo: bool) -> Result<bool> {
    let edit_error = |reason: String| Error::EditThreads { path: path.to_owned(), reason };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(edit_error(e.to_string())),
    };
    let new_text = set_test_threads(&text, profile, threads).map_err(edit_error)?;
    if check_with_tempo {
        let source = crate::config::ConfigSource { path: path.to_owned(), text: new_text.clone() };
        crate::config::Config::parse(source)
            .and_then(|c| c.profile(profile))
            .map_err(|e| edit_error(format!("the result would not be valid: {e}")))?;
    }
    if new_text == text {
        return Ok(false);
    }
    crate::files::write_atomically(path, new_text.as_bytes())
        .map_err(|source| Error::WriteFile { path: path.to_owned(), source })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_value_and_keeps_its_comment_and_the_rest() {
        let text = "# Our CI settings.\n[profile.default]\nretries = 2\ntest-threads = 8 # eight\n\n[profile.ci]\nretries = 1\n";
        let out = set_test_threads(text, "default", 4).unwrap();
        assert_eq!(
            out,
            "# Our CI settings.\n[profile.default]\nretries = 2\ntest-threads = 4 # eight\n\n[profile.ci]\nretries = 1\n"
        );
    }

    #[test]
    fn adds_the_key_to_an_existing_profile_after_its_keys() {
        let text = "[profile.ci]\nretries = 1 # one\n\n[profile.ci.junit]\npath = \"j.xml\"\n";
        let out = set_test_threads(text, "ci", 3).unwrap();
        assert_eq!(out, "[profile.ci]\nretries = 1 # one\ntest-threads = 3\n\n[profile.ci.junit]\npath = \"j.xml\"\n");
    }

    #[test]
    fn creates_the_profile_in_an_empty_file() {
        assert_eq!(set_test_threads("", "default", 2).unwrap(), "[profile.default]\ntest-threads = 2\n");
        let inline = "profile = { default = { retries = 1 } }\n";
        assert_eq!(
            set_test_threads(inline, "default", 2).unwrap(),
            "profile = { default = { retries = 1 , test-threads = 2 } }\n"
        );
    }

    #[test]
    fn a_file_it_cannot_edit_is_an_error() {
        assert!(set_test_threads("profile = 3\n", "default", 2).unwrap_err().contains("not a table"));
        assert!(set_test_threads("[profile\n", "default", 2).is_err());
    }
}
