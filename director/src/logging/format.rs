//! Python `logging`-style `%(field)s` formats and `datefmt` (C strftime).

use std::fmt::Write as _;

/// The fields a format may use.
pub const FIELDS: &[&str] = &[
    "asctime",
    "msecs",
    "actorAddress",
    "process",
    "name",
    "levelname",
    "levelno",
    "message",
    "created",
    "filename",
    "pathname",
    "lineno",
    "module",
    "thread",
    "threadName",
];

/// One record's values, as the format sees them.
pub struct Fields<'a> {
    pub(crate) unix_ms: u128,
    pub(crate) actor: &'a str,
    pub(crate) name: &'a str,
    pub(crate) level: log::Level,
    pub(crate) message: &'a str,
    pub(crate) file: Option<&'a str>,
    pub(crate) line: Option<u32>,
}

/// Python's level names and numbers.
pub fn level_name(l: log::Level) -> &'static str {
    match l {
        log::Level::Error => "ERROR",
        log::Level::Warn => "WARNING",
        log::Level::Info => "INFO",
        log::Level::Debug => "DEBUG",
        log::Level::Trace => "TRACE",
    }
}

/// Python's level numbers (TRACE, which Python lacks, is 5).
pub fn level_number(l: log::Level) -> i64 {
    match l {
        log::Level::Error => 40,
        log::Level::Warn => 30,
        log::Level::Info => 20,
        log::Level::Debug => 10,
        log::Level::Trace => 5,
    }
}

/// A parsed format string.
#[derive(Debug, Clone, PartialEq)]
pub struct Format {
    parts: Vec<Part>,
    datefmt: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Field { name: String, left: bool, width: usize, conv: char },
}

impl Format {
    /// Parses `fmt`; unknown fields are reported in `warnings` and render empty.
    pub fn parse(fmt: &str, datefmt: Option<String>, warnings: &mut Vec<String>, place: &str) -> Format {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = fmt;
        while let Some(i) = rest.find('%') {
            text.push_str(&rest[..i]);
            rest = &rest[i + 1..];
            if let Some(r) = rest.strip_prefix('%') {
                text.push('%');
                rest = r;
                continue;
            }
            let Some(spec) = rest.strip_prefix('(').and_then(|r| r.find(')').map(|j| (&r[..j], &r[j + 1..]))) else {
                warnings.push(format!("{place}: '%' not followed by '(field)' in {fmt:?}; kept as text"));
                text.push('%');
                continue;
            };
            let (name, after) = spec;
            let left = after.starts_with('-');
            let after = after.trim_start_matches(['-', '0', ' ', '+', '#']);
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            let after = &after[digits.len()..];
            let after = after.strip_prefix('.').map_or(after, |a| a.trim_start_matches(|c: char| c.is_ascii_digit()));
            let conv = after.chars().next().unwrap_or('s');
            rest = after.get(conv.len_utf8()..).unwrap_or("");
            if !FIELDS.contains(&name) {
                warnings.push(format!("{place}: unsupported format field %({name}); it prints empty"));
            }
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text)));
            }
            parts.push(Part::Field { name: name.to_string(), left, width: digits.parse().unwrap_or(0), conv });
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Format { parts, datefmt }
    }

    /// Renders one record.
    pub fn render(&self, f: &Fields<'_>) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Field { name, left, width, conv } => {
                    let v = self.field(name, *conv, f);
                    let _ = if *left { write!(out, "{v:<width$}") } else { write!(out, "{v:>width$}") };
                }
            }
        }
        out
    }

    fn field(&self, name: &str, conv: char, f: &Fields<'_>) -> String {
        let secs = u64::try_from(f.unix_ms / 1000).unwrap_or(0);
        let msecs = f.unix_ms % 1000;
        match name {
            "asctime" => match &self.datefmt {
                Some(d) => strftime(d, secs),
                None => format!("{},{msecs:03}", strftime("%Y-%m-%d %H:%M:%S", secs)),
            },
            "msecs" if conv == 'd' => msecs.to_string(),
            "msecs" => format!("{msecs}.0"),
            "created" => format!("{}.{msecs:03}", secs),
            "actorAddress" => f.actor.to_string(),
            "process" => std::process::id().to_string(),
            "name" => f.name.to_string(),
            "levelname" => level_name(f.level).to_string(),
            "levelno" => level_number(f.level).to_string(),
            "message" => f.message.to_string(),
            "pathname" => f.file.unwrap_or("").to_string(),
            "filename" => f.file.and_then(|p| p.rsplit('/').next()).unwrap_or("").to_string(),
            "module" => {
                f.file.and_then(|p| p.rsplit('/').next()).map(|n| n.trim_end_matches(".rs")).unwrap_or("").to_string()
            }
            "lineno" => f.line.map(|l| l.to_string()).unwrap_or_default(),
            "thread" | "threadName" => std::thread::current().name().unwrap_or("").to_string(),
            _ => String::new(),
        }
    }
}

/// C `strftime` of local time `secs` (what Python's `datefmt` uses).
pub fn strftime(fmt: &str, secs: u64) -> String {
    let Ok(cfmt) = std::ffi::CString::new(fmt) else { return String::new() };
    let t = libc::time_t::try_from(secs).unwrap_or(0);
    let mut tm = std::mem::MaybeUninit::<libc::tm>::zeroed();
    // SAFETY: `t` is a valid time_t and `tm` is writable storage for one tm.
    if unsafe { libc::localtime_r(&t, tm.as_mut_ptr()) }.is_null() {
        return String::new();
    }
    let mut buf = vec![0u8; 256];
    // SAFETY: `buf` has the length passed; `cfmt` is NUL-terminated; `tm` was filled by localtime_r.
    let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), cfmt.as_ptr(), tm.as_ptr()) };
    buf.truncate(n);
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields<'static> {
        Fields {
            unix_ms: 1_700_000_000_123,
            actor: "actor:3.17",
            name: "foo.bar",
            level: log::Level::Info,
            message: "hi",
            file: None,
            line: None,
        }
    }

    #[test]
    fn the_seeds_format_corrected() {
        let mut w = Vec::new();
        let f = Format::parse(
            "%(asctime)s,%(msecs)d %(actorAddress)s/PID:%(process)d %(name)s %(levelname)s %(message)s",
            Some("%Y-%m-%d %H:%M:%S".into()),
            &mut w,
            "t",
        );
        assert!(w.is_empty(), "{w:?}");
        let line = f.render(&fields());
        let date = strftime("%Y-%m-%d %H:%M:%S", 1_700_000_000);
        assert_eq!(line, format!("{date},123 actor:3.17/PID:{} foo.bar INFO hi", std::process::id()));
    }

    #[test]
    fn widths_percent_signs_and_unknown_fields() {
        let mut w = Vec::new();
        let f = Format::parse("[%(levelname)-8s] 100%% %(bogus)s|", None, &mut w, "formatters.x");
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("formatters.x") && w[0].contains("bogus"));
        assert_eq!(f.render(&fields()), "[INFO    ] 100% |");
    }
}
