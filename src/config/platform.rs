//! Evaluates the `platform` key of an override: a target triple or a `cfg(...)`
//! expression, as Cargo writes them, against the platform the tests run on.
//!
//! tempo does not cross-compile, so the host and the target are the same machine,
//! the one tempo itself was built for.

use std::fmt;

/// A parsed `cfg(...)` expression or triple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformSpec {
    /// A target triple, compared exactly.
    Triple(String),
    /// `cfg(...)`.
    Cfg(Cfg),
}

/// One node of a `cfg` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cfg {
    /// `unix`, `windows`, `test`, ...
    Name(String),
    /// `target_os = "linux"`, ...
    KeyValue(String, String),
    /// `all(...)`.
    All(Vec<Cfg>),
    /// `any(...)`.
    Any(Vec<Cfg>),
    /// `not(...)`.
    Not(Box<Cfg>),
}

impl fmt::Display for PlatformSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlatformSpec::Triple(t) => f.write_str(t),
            PlatformSpec::Cfg(c) => write!(f, "cfg({c})"),
        }
    }
}

impl fmt::Display for Cfg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, name: &str, items: &[Cfg]| {
            write!(f, "{name}(")?;
            for (i, c) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str(")")
        };
        match self {
            Cfg::Name(n) => f.write_str(n),
            Cfg::KeyValue(k, v) => write!(f, "{k} = {v:?}"),
            Cfg::All(items) => list(f, "all", items),
            Cfg::Any(items) => list(f, "any", items),
            Cfg::Not(c) => write!(f, "not({c})"),
        }
    }
}

/// The triple of the platform tempo runs on, spelled as rustc spells host triples.
pub fn host_triple() -> String {
    let vendor = if cfg!(target_vendor = "apple") {
        "apple"
    } else if cfg!(target_vendor = "pc") {
        "pc"
    } else {
        "unknown"
    };
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let env = target_env();
    if env.is_empty() {
        format!("{}-{vendor}-{os}", std::env::consts::ARCH)
    } else {
        format!("{}-{vendor}-{os}-{env}", std::env::consts::ARCH)
    }
}

fn target_env() -> &'static str {
    if cfg!(target_env = "gnu") {
        "gnu"
    } else if cfg!(target_env = "musl") {
        "musl"
    } else if cfg!(target_env = "msvc") {
        "msvc"
    } else {
        ""
    }
}

impl Cfg {
    /// Whether the expression holds on the platform tempo runs on.
    pub fn holds(&self) -> bool {
        match self {
            Cfg::Name(n) => match n.as_str() {
                "unix" => cfg!(unix),
                "windows" => cfg!(windows),
                _ => false,
            },
            Cfg::KeyValue(k, v) => {
                let actual = match k.as_str() {
                    "target_os" => std::env::consts::OS,
                    "target_family" => std::env::consts::FAMILY,
                    "target_arch" => std::env::consts::ARCH,
                    "target_env" => target_env(),
                    "target_endian" => {
                        if cfg!(target_endian = "little") {
                            "little"
                        } else {
                            "big"
                        }
                    }
                    "target_pointer_width" => {
                        if cfg!(target_pointer_width = "64") {
                            "64"
                        } else {
                            "32"
                        }
                    }
                    "target_vendor" => {
                        if cfg!(target_vendor = "apple") {
                            "apple"
                        } else if cfg!(target_vendor = "pc") {
                            "pc"
                        } else {
                            "unknown"
                        }
                    }
                    _ => return false,
                };
                actual == v
            }
            Cfg::All(items) => items.iter().all(Cfg::holds),
            Cfg::Any(items) => items.iter().any(Cfg::holds),
            Cfg::Not(c) => !c.holds(),
        }
    }
}

impl PlatformSpec {
    /// Parses a triple or a `cfg(...)` expression.
    pub fn parse(input: &str) -> Result<PlatformSpec, String> {
        let s = input.trim();
        let Some(inner) = s.strip_prefix("cfg(").and_then(|r| r.strip_suffix(')')) else {
            if s.is_empty() || s.contains(char::is_whitespace) {
                return Err(format!(
                    "invalid platform `{input}`; expected a target triple or a cfg() expression such as cfg(unix)"
                ));
            }
            return Ok(PlatformSpec::Triple(s.to_owned()));
        };
        let mut p = CfgParser { s: inner, pos: 0, depth: 0 };
        let cfg = p.expr()?;
        p.skip_ws();
        if p.pos != p.s.len() {
            return Err(format!("unexpected `{}` in cfg expression `{input}`", &p.s[p.pos..]));
        }
        Ok(PlatformSpec::Cfg(cfg))
    }

    /// Whether the tests run on a platform that matches.
    pub fn matches(&self) -> bool {
        match self {
            PlatformSpec::Triple(t) => *t == host_triple(),
            PlatformSpec::Cfg(c) => c.holds(),
        }
    }
}

/// How deep `all()`, `any()` and `not()` may nest in a `cfg()` expression. Parsing,
/// evaluating, printing and dropping one recurse once per level, so without a bound
/// a long enough expression overflows the stack. Cargo's own expressions rarely
/// nest more than three deep.
const MAX_CFG_DEPTH: usize = 64;

struct CfgParser<'a> {
    s: &'a str,
    pos: usize,
    /// How many operators enclose the current position.
    depth: usize,
}

impl CfgParser<'_> {
    fn skip_ws(&mut self) {
        // Whitespace may be more than one byte long (a no-break space is two).
        while let Some(c) = self.s[self.pos..].chars().next().filter(|c| c.is_whitespace()) {
            self.pos += c.len_utf8();
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        self.skip_ws();
        let rest = &self.s[self.pos..];
        let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if len == 0 {
            return Err(format!("expected a cfg name at `{rest}`"));
        }
        self.pos += len;
        Ok(rest[..len].to_owned())
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.s[self.pos..].starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Result<Cfg, String> {
        let name = self.ident()?;
        if self.eat('(') {
            self.depth += 1;
            if self.depth > MAX_CFG_DEPTH {
                return Err(format!("the cfg expression nests more than {MAX_CFG_DEPTH} deep"));
            }
            let mut items = Vec::new();
            while !self.eat(')') {
                items.push(self.expr()?);
                if !self.eat(',') {
                    if !self.eat(')') {
                        return Err(format!("expected `,` or `)` in `{}`", self.s));
                    }
                    break;
                }
            }
            self.depth -= 1;
            return match name.as_str() {
                "all" => Ok(Cfg::All(items)),
                "any" => Ok(Cfg::Any(items)),
                "not" if items.len() == 1 => Ok(Cfg::Not(Box::new(items.remove(0)))),
                "not" => Err("not() takes exactly one cfg expression".into()),
                other => Err(format!("unknown cfg operator `{other}`; expected all, any or not")),
            };
        }
        if self.eat('=') {
            self.skip_ws();
            let rest = &self.s[self.pos..];
            let Some(body) = rest.strip_prefix('"') else {
                return Err(format!("expected a quoted value after `{name} =`"));
            };
            let Some(end) = body.find('"') else { return Err(format!("unterminated string after `{name} =`")) };
            self.pos += end + 2;
            return Ok(Cfg::KeyValue(name, body[..end].to_owned()));
        }
        Ok(Cfg::Name(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cfg_expressions_evaluate_on_this_platform() {
        let holds = |s: &str| PlatformSpec::parse(s).unwrap().matches();
        assert_eq!(holds("cfg(unix)"), cfg!(unix));
        assert_eq!(holds("cfg(windows)"), cfg!(windows));
        assert_eq!(holds(r#"cfg(target_os = "linux")"#), cfg!(target_os = "linux"));
        assert!(holds(r#"cfg(any(unix, windows))"#));
        assert!(!holds(r#"cfg(all(unix, windows))"#));
        assert_eq!(holds(r#"cfg(not(target_os = "macos"))"#), !cfg!(target_os = "macos"));
        assert!(holds(&host_triple()));
        assert!(!holds("riscv64gc-unknown-none-elf"));
    }

    #[test]
    fn malformed_cfg_is_an_error() {
        assert!(PlatformSpec::parse("cfg(target_os = linux)").is_err());
        assert!(PlatformSpec::parse("cfg(maybe(unix))").is_err());
        assert!(PlatformSpec::parse("cfg(not(unix, windows))").is_err());
        assert!(PlatformSpec::parse("").is_err());
    }

    #[test]
    fn specs_display_as_written() {
        let spec = PlatformSpec::parse(r#"cfg(all(unix, not(target_os = "macos")))"#).unwrap();
        assert_eq!(spec.to_string(), r#"cfg(all(unix, not(target_os = "macos")))"#);
    }
}
