//! The leader's package uploads: a package is stored as soon as the
//! leader has verified it, while its own load goes on (the upload of a
//! large package takes about as long as the load), and members are asked
//! to run it once both are done. The leader's record marks a package
//! pending until it is stored, so no member looks for it in the store too
//! early (and none unloads it meanwhile).
//!
//! Lock order: `uploads`, then one upload's `state`; never the other way.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

use crate::convention::link::Link;
use crate::convention::store;
use crate::convention::store::short;

/// One package's upload: `None` while it runs, then its outcome.
#[derive(Default)]
struct Upload {
    state: Mutex<Option<Result<(), String>>>,
    done: Condvar,
}

/// The uploads of this leader, by package hash.
pub struct Publisher {
    link: Arc<Link>,
    uploads: Mutex<HashMap<String, Arc<Upload>>>,
}

impl Publisher {
    /// A publisher over `link`.
    pub fn new(link: Arc<Link>) -> Arc<Publisher> {
        Arc::new(Publisher { link, uploads: Mutex::new(HashMap::new()) })
    }

    /// Starts storing `file` (package `hash`) on a thread of its own,
    /// unless it is stored or being stored.
    pub fn start(self: &Arc<Self>, hash: &str, file: &Path) {
        let upload = {
            let mut uploads = self.uploads.lock().unwrap_or_else(|p| p.into_inner());
            if uploads.get(hash).is_some_and(|u| !matches!(*u.lock(), Some(Err(_)))) {
                return;
            }
            let upload = Arc::new(Upload::default());
            uploads.insert(hash.to_string(), upload.clone());
            upload
        };
        let (link, owned, file, stored) = (self.link.clone(), hash.to_string(), file.to_path_buf(), upload.clone());
        let spawned = std::thread::Builder::new().name("thespian-store".into()).spawn(move || {
            let started = std::time::Instant::now();
            let outcome = std::fs::read(&file)
                .map_err(|e| format!("reading {}: {e}", file.display()))
                .and_then(|bytes| store::publish(&link, &owned, &bytes).map_err(|e| e.to_string()));
            match &outcome {
                Ok(()) => log::info!("convention: stored {} in {:?}", short(&owned), started.elapsed()),
                Err(e) => log::error!("convention: storing {}: {e}", short(&owned)),
            }
            stored.finish(outcome);
        });
        if let Err(e) = spawned {
            upload.finish(Err(format!("cannot start storing {}: {e}", short(hash))));
        }
    }

    /// Stores `file` (package `hash`) if that has not begun, and waits for
    /// the outcome.
    pub fn wait(self: &Arc<Self>, hash: &str, file: &Path) -> Result<(), String> {
        self.start(hash, file);
        let upload = self.uploads.lock().unwrap_or_else(|p| p.into_inner()).get(hash).cloned();
        let upload = upload.ok_or_else(|| format!("storing {} did not start", short(hash)))?;
        let mut state = upload.lock();
        loop {
            if let Some(outcome) = state.as_ref() {
                return outcome.clone();
            }
            state = upload.done.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Which of `hashes` are stored; forgets the uploads of every other
    /// package that is done (it was unloaded, or its load failed).
    pub fn stored_among(&self, hashes: &HashSet<String>) -> HashSet<String> {
        let mut uploads = self.uploads.lock().unwrap_or_else(|p| p.into_inner());
        uploads.retain(|h, u| hashes.contains(h) || u.lock().is_none());
        uploads.iter().filter(|(_, u)| matches!(*u.lock(), Some(Ok(())))).map(|(h, _)| h.clone()).collect()
    }
}

impl Upload {
    fn finish(&self, outcome: Result<(), String>) {
        *self.lock() = Some(outcome);
        self.done.notify_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Result<(), String>>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}
