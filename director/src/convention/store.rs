//! The convention's package store: the exact signed `.tls` bytes the
//! leader loaded, in the JetStream object store `NAME-packages`, each named
//! by its package hash (the SHA-256 of the file).
//!
//! A member never takes the store's word: it checks the size before it
//! reads, reads at most [`MAX_PACKAGE`] bytes, checks that the bytes hash to
//! the name it asked for, and then verifies the package with its own
//! trusted keys like any file in its directory (see `deploy`).

use async_nats::jetstream::object_store::{self, ObjectStore};
use std::path::Path;

use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::convention::link::Link;

/// The size of the pieces a package is stored in.
const CHUNK: usize = 512 << 10;

/// The largest package the store takes or a member reads.
pub const MAX_PACKAGE: usize = 256 << 20;

/// Why a package could not be stored or fetched.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The server or the client failed.
    #[error("package store: {0}")]
    Nats(String),
    /// No package of that hash is stored.
    #[error("package {0} is not in the convention's store")]
    Missing(String),
    /// Larger than [`MAX_PACKAGE`].
    #[error("package {hash} in the store is {size} bytes (at most {MAX_PACKAGE})")]
    TooLarge {
        /// The hash asked for.
        hash: String,
        /// Its size.
        size: usize,
    },
    /// The fetched copy could not be written.
    #[error("writing {file}: {reason}")]
    Write {
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
    /// The bytes do not hash to their name: changed in the store.
    #[error("the store's copy of {hash} hashes to {got}: it was changed, refused")]
    Tampered {
        /// The hash asked for.
        hash: String,
        /// The hash of what came back.
        got: String,
    },
}

/// A package hash as messages and refusals name it: its first 12
/// characters (all of a shorter one, which a run request's check refuses).
pub fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

fn nats(e: impl std::fmt::Display) -> StoreError {
    StoreError::Nats(e.to_string())
}

async fn bucket(link: &Link) -> Result<ObjectStore, StoreError> {
    let js = async_nats::jetstream::new(link.client().clone());
    let name = format!("{}-packages", link.name());
    if let Ok(store) = js.get_object_store(&name).await {
        return Ok(store);
    }
    let config = object_store::Config {
        bucket: name,
        description: Some("thespian-director signed packages, by hash".into()),
        ..Default::default()
    };
    js.create_object_store(config).await.map_err(nats)
}

/// Stores `bytes` (a package file) under `hash`, unless it is there already.
pub fn publish(link: &Link, hash: &str, bytes: &[u8]) -> Result<(), StoreError> {
    if bytes.len() > MAX_PACKAGE {
        return Err(StoreError::TooLarge { hash: hash.to_string(), size: bytes.len() });
    }
    link.block_on(async {
        let store = bucket(link).await?;
        if store.info(hash).await.is_ok_and(|i| i.size == bytes.len()) {
            return Ok(());
        }
        let mut reader = bytes;
        // Chunks are stored one acknowledged publish at a time: 512 KiB
        // chunks (the client's default is 128 KiB) make a quarter of the
        // round trips, and stay under the server's 1 MiB message limit.
        let meta =
            object_store::ObjectMetadata { name: hash.to_string(), chunk_size: Some(CHUNK), ..Default::default() };
        store.put(meta, &mut reader).await.map(drop).map_err(nats)
    })
}

/// Fetches the package `hash` into `target`: the bytes stream into a new
/// file beside it (never all in memory), hashed and counted as they come,
/// and the file takes `target`'s name only if they hash to `hash`; on any
/// failure `target` is untouched. Not synced (see `atomic::write_unsynced`).
pub fn fetch_into(link: &Link, hash: &str, target: &Path) -> Result<(), StoreError> {
    let mut object = link.block_on(async {
        let store = bucket(link).await?;
        let info = store.info(hash).await.map_err(|_| StoreError::Missing(hash.to_string()))?;
        if info.size > MAX_PACKAGE {
            return Err(StoreError::TooLarge { hash: hash.to_string(), size: info.size });
        }
        store.get(hash).await.map_err(nats)
    })?;
    let write = |e: std::io::Error| StoreError::Write { file: target.display().to_string(), reason: e.to_string() };
    let mut staged = crate::atomic::begin(target, 0o644).map_err(write)?;
    let (mut hasher, mut total, mut buf) = (Sha256::new(), 0usize, vec![0u8; 1 << 20]);
    loop {
        // Read on this thread, driven by the link's runtime.
        let n = link.block_on(object.read(&mut buf)).map_err(nats)?;
        if n == 0 {
            break;
        }
        total += n;
        if total > MAX_PACKAGE {
            return Err(StoreError::TooLarge { hash: hash.to_string(), size: total });
        }
        hasher.update(&buf[..n]);
        staged.write_all(&buf[..n]).map_err(write)?;
    }
    let got = runtime::hex(&hasher.finalize());
    if got != hash {
        return Err(StoreError::Tampered { hash: hash.to_string(), got });
    }
    staged.commit().map(drop).map_err(write)
}

/// Fetches the package `hash`, checked for size and for its hash.
pub fn fetch(link: &Link, hash: &str) -> Result<Vec<u8>, StoreError> {
    let bytes = link.block_on(async {
        let store = bucket(link).await?;
        let info = store.info(hash).await.map_err(|_| StoreError::Missing(hash.to_string()))?;
        if info.size > MAX_PACKAGE {
            return Err(StoreError::TooLarge { hash: hash.to_string(), size: info.size });
        }
        let object = store.get(hash).await.map_err(nats)?;
        let mut bytes = Vec::with_capacity(info.size);
        object.take(MAX_PACKAGE as u64 + 1).read_to_end(&mut bytes).await.map_err(nats)?;
        Ok(bytes)
    })?;
    if bytes.len() > MAX_PACKAGE {
        return Err(StoreError::TooLarge { hash: hash.to_string(), size: bytes.len() });
    }
    let got = runtime::sha256_hex(&bytes);
    if got != hash {
        return Err(StoreError::Tampered { hash: hash.to_string(), got });
    }
    Ok(bytes)
}
