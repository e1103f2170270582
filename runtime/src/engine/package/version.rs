//! One loaded package version: its code, its threads and its live actors.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::engine::executor::Executor;
use crate::native::library::Library;
use crate::package::PackageInfo;

/// A loaded version.
pub(crate) struct Version {
    pub(crate) home: u32,
    pub(crate) info: PackageInfo,
    pub(crate) exec: Executor,
    library: Mutex<Option<Arc<Library>>>,
    live: Mutex<usize>,
    idle: Condvar,
    unloading: AtomicBool,
}

impl Version {
    pub(crate) fn new(home: u32, info: PackageInfo, exec: Executor, library: Arc<Library>) -> Self {
        Version {
            home,
            info,
            exec,
            library: Mutex::new(Some(library)),
            live: Mutex::new(0),
            idle: Condvar::new(),
            unloading: AtomicBool::new(false),
        }
    }

    /// The code, unless the version is being unloaded.
    pub(crate) fn library(&self) -> Option<Arc<Library>> {
        if self.is_unloading() {
            return None;
        }
        self.library.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The code even while unloading (for the shutdown hook).
    pub(crate) fn library_for_unload(&self) -> Option<Arc<Library>> {
        self.library.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Takes the version's own reference to the code (unload).
    pub(crate) fn take_library(&self) -> Option<Arc<Library>> {
        self.library.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    pub(crate) fn class_index(&self, class: &str) -> Option<u32> {
        self.info.classes.iter().position(|c| c == class).and_then(|i| u32::try_from(i).ok())
    }

    /// Marks the version as unloading; true for the one caller that did it.
    pub(crate) fn begin_unload(&self) -> bool {
        !self.unloading.swap(true, Ordering::AcqRel)
    }

    pub(crate) fn is_unloading(&self) -> bool {
        self.unloading.load(Ordering::Acquire)
    }

    pub(crate) fn actor_started(&self) {
        *self.live.lock().unwrap_or_else(|p| p.into_inner()) += 1;
    }

    pub(crate) fn actor_stopped(&self) {
        let mut n = self.live.lock().unwrap_or_else(|p| p.into_inner());
        *n = n.saturating_sub(1);
        if *n == 0 {
            self.idle.notify_all();
        }
    }

    /// Waits up to `grace` for every actor to stop; returns how many remain.
    pub(crate) fn wait_idle(&self, grace: Duration) -> usize {
        let deadline = Instant::now() + grace;
        let mut n = self.live.lock().unwrap_or_else(|p| p.into_inner());
        while *n > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            n = self.idle.wait_timeout(n, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
        *n
    }
}
