//! Handlers: where formatted records go (stream, file, size- or
//! time-rotated file via `file-rotate`), with their level and filters.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};

use crate::logging::format::{Fields, Format, level_number};

/// A record filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `thespian.director.ActorAddressLogFilter`: every record has an
    /// `actorAddress` (empty outside actors), so it lets all through.
    ActorAddress,
    /// Python's name filter: the logger name is `name` or below it.
    Name(String),
}

/// Where lines go.
pub enum Output {
    /// Standard error.
    Stderr,
    /// Standard output.
    Stdout,
    /// A plain file, appended to.
    File(Mutex<File>),
    /// A rotated file.
    Rotating(Mutex<FileRotate<AppendCount>>),
}

/// One handler.
pub struct Handler {
    /// Its name in the configuration.
    pub name: String,
    /// Records below this Python level number are dropped.
    pub level: i64,
    /// How records look.
    pub format: Format,
    /// All must pass.
    pub filters: Vec<Filter>,
    /// Where they go.
    pub output: Output,
}

impl Handler {
    /// Formats and writes one record if the level and filters let it through.
    pub fn emit(&self, f: &Fields<'_>) {
        if level_number(f.level) < self.level {
            return;
        }
        let passes = self.filters.iter().all(|flt| match flt {
            Filter::ActorAddress => true,
            Filter::Name(n) => f.name == n || f.name.starts_with(&format!("{n}.")),
        });
        if !passes {
            return;
        }
        let mut line = self.format.render(f);
        line.push('\n');
        let _ = match &self.output {
            Output::Stderr => std::io::stderr().lock().write_all(line.as_bytes()),
            Output::Stdout => std::io::stdout().lock().write_all(line.as_bytes()),
            Output::File(file) => file.lock().unwrap_or_else(|p| p.into_inner()).write_all(line.as_bytes()),
            Output::Rotating(file) => {
                let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
                file.write_all(line.as_bytes()).and_then(|()| file.flush())
            }
        };
    }
}

fn ensure_writable(path: &Path) -> Result<(), String> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).ok_or("the file has no directory")?;
    std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map(drop)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))
}

/// A plain file (`FileHandler`); `truncate` for mode `'w'`.
pub fn file(path: &Path, truncate: bool) -> Result<Output, String> {
    ensure_writable(path)?;
    let mut o = OpenOptions::new();
    o.create(true).custom_flags(libc::O_NOFOLLOW);
    if truncate {
        o.write(true).truncate(true)
    } else {
        o.append(true)
    };
    o.open(path).map(|f| Output::File(Mutex::new(f))).map_err(|e| format!("cannot open {}: {e}", path.display()))
}

/// A rotated file keeping `backups` old files; `limit` says when to rotate.
pub fn rotating(path: &Path, limit: ContentLimit, backups: usize) -> Result<Output, String> {
    ensure_writable(path)?;
    let path = path.to_path_buf();
    // file-rotate panics when it cannot create the directory; it exists now,
    // but keep a panic from taking the daemon down all the same.
    std::panic::catch_unwind(move || {
        let mut o = OpenOptions::new();
        o.append(true).create(true).custom_flags(libc::O_NOFOLLOW);
        FileRotate::new(&path, AppendCount::new(backups), limit, Compression::None, Some(o))
    })
    .map(|r| Output::Rotating(Mutex::new(r)))
    .map_err(|_| "the log file could not be opened for rotation".to_string())
}
