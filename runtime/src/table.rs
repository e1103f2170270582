//! The address -> actor table, sharded so lookups from many threads rarely
//! contend on one lock.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::cell::ActorCell;

const SHARDS: usize = 32;

/// Every live actor (and reply slot) by id.
pub(crate) struct ActorTable {
    shards: Vec<RwLock<HashMap<u64, Arc<ActorCell>>>>,
}

impl ActorTable {
    pub(crate) fn new() -> Self {
        ActorTable { shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect() }
    }

    fn shard(&self, id: u64) -> &RwLock<HashMap<u64, Arc<ActorCell>>> {
        &self.shards[(id as usize) % SHARDS]
    }

    pub(crate) fn get(&self, id: u64) -> Option<Arc<ActorCell>> {
        let shard = self.shard(id).read().unwrap_or_else(|p| p.into_inner());
        shard.get(&id).cloned()
    }

    pub(crate) fn insert(&self, cell: Arc<ActorCell>) {
        let id = cell.addr.id();
        self.shard(id).write().unwrap_or_else(|p| p.into_inner()).insert(id, cell);
    }

    pub(crate) fn remove(&self, id: u64) -> Option<Arc<ActorCell>> {
        self.shard(id).write().unwrap_or_else(|p| p.into_inner()).remove(&id)
    }

    /// A snapshot of the cells for which `keep` is true.
    pub(crate) fn select(&self, keep: impl Fn(&ActorCell) -> bool) -> Vec<Arc<ActorCell>> {
        let mut out = Vec::new();
        for shard in &self.shards {
            let shard = shard.read().unwrap_or_else(|p| p.into_inner());
            out.extend(shard.values().filter(|c| keep(c)).cloned());
        }
        out
    }
}
