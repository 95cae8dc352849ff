//! Adds the overrides that `flaky` suggests to a config file with toml_edit, so that
//! the file's comments, key order and layout survive the edit.

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

/// One override to add: the tests it selects and the retries it gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggested {
    /// A filter expression selecting exactly one test.
    pub filter: String,
    /// How many retries.
    pub retries: u32,
}

/// Appends `[[profile.<profile>.overrides]]` tables to `text`, skipping any whose
/// filter the profile already has. Returns the new text and how many were added.
pub fn add_overrides(text: &str, profile: &str, overrides: &[Suggested]) -> Result<(String, usize), String> {
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| e.to_string())?;
    let profiles = doc.entry("profile").or_insert_with(implicit_table);
    let profiles = profiles.as_table_like_mut().ok_or("`profile` is not a table")?;
    let this = profiles.entry(profile).or_insert(implicit_table());
    let this = this.as_table_like_mut().ok_or_else(|| format!("`profile.{profile}` is not a table"))?;
    let list = this.entry("overrides").or_insert(Item::ArrayOfTables(ArrayOfTables::new()));
    let list = list.as_array_of_tables_mut().ok_or_else(|| {
        format!("`profile.{profile}.overrides` is not written as [[profile.{profile}.overrides]] tables")
    })?;
    let mut added = 0;
    for o in overrides {
        let exists = list.iter().any(|t| t.get("filter").and_then(Item::as_str) == Some(o.filter.as_str()));
        if exists {
            continue;
        }
        let mut table = Table::new();
        table.insert("filter", value(o.filter.as_str()));
        table.insert("retries", value(i64::from(o.retries)));
        list.push(table);
        added += 1;
    }
    Ok((doc.to_string(), added))
}

/// A table that prints no header of its own when it only holds other tables.
fn implicit_table() -> Item {
    let mut t = Table::new();
    t.set_implicit(true);
    Item::Table(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(filter: &str) -> Vec<Suggested> {
        vec![Suggested { filter: filter.into(), retries: 3 }]
    }

    #[test]
    fn keeps_comments_and_layout() {
        let text = "# Our CI settings.\n[profile.default]\ntest-threads = 8 # eight\n\n[profile.ci]\nretries = 1\n";
        let (out, added) = add_overrides(text, "default", &one("test(=a) & binary_id(=b)")).unwrap();
        assert_eq!(added, 1);
        // toml_edit puts the new tables after their profile's own keys; the rest is untouched.
        let expected = "# Our CI settings.\n[profile.default]\ntest-threads = 8 # eight\n\n\
                        [[profile.default.overrides]]\nfilter = \"test(=a) & binary_id(=b)\"\nretries = 3\n\n\
                        [profile.ci]\nretries = 1\n";
        assert_eq!(out, expected);
    }

    #[test]
    fn creates_the_profile_and_does_not_repeat_an_override() {
        let (out, _) = add_overrides("", "ci", &one("test(=a)")).unwrap();
        assert_eq!(out, "[[profile.ci.overrides]]\nfilter = \"test(=a)\"\nretries = 3\n");
        let (again, added) = add_overrides(&out, "ci", &one("test(=a)")).unwrap();
        assert_eq!((again.as_str(), added), (out.as_str(), 0));
    }

    #[test]
    fn a_file_it_cannot_edit_is_an_error() {
        assert!(add_overrides("profile = 3\n", "default", &one("test(=a)")).unwrap_err().contains("not a table"));
        assert!(add_overrides("[profile\n", "default", &one("test(=a)")).is_err());
        let inline = "[profile.default]\noverrides = [{ filter = 'all()', retries = 1 }]\n";
        assert!(
            add_overrides(inline, "default", &one("test(=a)")).unwrap_err().contains("[[profile.default.overrides]]")
        );
    }
}
