//! The address -> actor table, sharded so lookups from many threads rarely
//! contend on one lock.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, RwLock};

use crate::engine::cell::ActorCell;

const SHARDS: usize = 32;

/// Hashes the sequential actor ids: one multiply instead of SipHash (the
/// ids come from a counter, not from outside, so flooding is not a concern).
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8 | u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
    }
}

type Shard = HashMap<u64, Arc<ActorCell>, BuildHasherDefault<IdHasher>>;

/// Every live actor (and reply slot) by id.
pub(crate) struct ActorTable {
    shards: Vec<RwLock<Shard>>,
}

impl ActorTable {
    pub(crate) fn new() -> Self {
        ActorTable { shards: (0..SHARDS).map(|_| RwLock::new(Shard::default())).collect() }
    }

    fn shard(&self, id: u64) -> &RwLock<Shard> {
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
