//! Each member's node block: the number its daemon's actor system takes
//! (`runtime::remote::NODE_BLOCK_BITS`), so that an actor address names one
//! actor across the convention and messages need no translation.
//!
//! Blocks are claimed in the JetStream key-value bucket `NAME-slots`
//! (`BLOCK` -> member name) with an atomic create: two members never hold
//! one block. A member keeps its block across restarts (it finds its name
//! again), so addresses it handed out stay its own. Block 0 is a single
//! host's and never claimed.

use async_nats::jetstream::kv;

use crate::convention::link::Link;

/// The most blocks a convention hands out (member names ever seen).
pub const MAX_BLOCKS: u32 = 1023;

/// Why no block could be claimed.
#[derive(Debug, thiserror::Error)]
#[error("convention node blocks: {0}")]
pub struct SlotsError(String);

/// The block of member `name`: the one it held before, or the lowest free one.
pub fn claim(link: &Link, name: &str) -> Result<u32, SlotsError> {
    link.block_on(async {
        let js = async_nats::jetstream::new(link.client().clone());
        let config = kv::Config {
            bucket: format!("{}-slots", link.name()),
            description: "thespian-director convention node blocks".into(),
            history: 1,
            max_value_size: 1024,
            ..Default::default()
        };
        let store = js.create_or_update_key_value(config).await.map_err(|e| SlotsError(e.to_string()))?;
        for block in 1..=MAX_BLOCKS {
            let key = block.to_string();
            match store.get(&key).await.map_err(|e| SlotsError(e.to_string()))? {
                Some(holder) if holder.as_ref() == name.as_bytes() => return Ok(block),
                Some(_) => continue,
                None => {}
            }
            match store.create(&key, name.as_bytes().to_vec().into()).await {
                Ok(_) => return Ok(block),
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => continue,
                Err(e) => return Err(SlotsError(e.to_string())),
            }
        }
        Err(SlotsError(format!("all {MAX_BLOCKS} blocks are held by other member names")))
    })
}
