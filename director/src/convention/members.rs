//! Membership: each member keeps a record under its name in the JetStream
//! key-value bucket `NAME-members`, rewritten every [`HEARTBEAT`]. The
//! bucket's entries expire after [`GONE_AFTER`] (three heartbeats), so a
//! member that stops (killed, cut off) disappears without anyone deleting
//! it. A clean shutdown deletes its own record at once.
//!
//! Every record read back is another host's word: it is size-capped by the
//! bucket, parsed as data, and one that does not parse, or whose name is not
//! its key, is shown as unreadable rather than trusted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::kv;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::convention::link::Link;

/// How often a member rewrites its record.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// When a record that was not rewritten expires: three heartbeats.
pub const GONE_AFTER: Duration = Duration::from_secs(3);
/// The largest record the bucket accepts.
const MAX_RECORD: i32 = 64 << 10;
/// The most members listed.
const MAX_MEMBERS: usize = 1024;

/// What a member says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberRecord {
    /// Its member name (also the record's key).
    pub name: String,
    /// Its daemon's process id.
    pub pid: u32,
    /// True if `convleader.cfg` names it.
    pub leader: bool,
    /// `othercaps.cfg`, as JSON.
    pub capabilities: serde_json::Value,
    /// The versions it has loaded: `GROUP VERSION HASH`, `*` after the active one.
    pub versions: Vec<String>,
    /// Packages of the leader it refused lately, and why (`HASH12: reason`).
    #[serde(default)]
    pub refused: Vec<String>,
    /// Packages it unloaded lately because the leader did, with what
    /// became of their code (`HASH12: unloaded GROUP VERSION, code freed`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unloaded: Vec<String>,
    /// Its loaded packages, in load order per group: from the leader's
    /// record, what every member converges to.
    #[serde(default)]
    pub packages: Vec<PackageRef>,
    /// True once its daemon has restored what its directory holds: until
    /// then `packages` is not yet what it runs, and members must not
    /// converge to it (they would unload, then run again, what a
    /// restarting leader is about to restore).
    #[serde(default)]
    pub settled: bool,
    /// Its node block (`convention::slots`): its actors' addresses carry
    /// node numbers of this block. 0: not given.
    #[serde(default)]
    pub block: u32,
    /// The actors the leader placed on it (TLI `Requires`) that run here,
    /// with their addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actors: Vec<PlacedActor>,
}

/// An actor placed on a member, as its record names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacedActor {
    /// Its version's package hash.
    pub hash: String,
    /// Its class.
    pub class: String,
    /// Its address (`actor:HOME.ID@NODE`).
    pub address: String,
}

/// A loaded package, as a member's record names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PackageRef {
    /// Its group.
    pub group: String,
    /// Its package hash (its name in the store).
    pub hash: String,
    /// Its file name (`GROUP-VERSION.tls`).
    pub file_name: String,
    /// Where its actors with `Requires` run: class, then member name (in
    /// the leader's record, the leader's decision).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub placed: BTreeMap<String, String>,
    /// In the leader's record: true while the package is being stored
    /// (members wait for it, and keep running it if they do).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
}

/// One member as `list --convention` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberListing {
    /// The record's key.
    pub key: String,
    /// The record, if it could be read.
    pub record: Option<MemberRecord>,
    /// Why it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// Why membership failed.
#[derive(Debug, thiserror::Error)]
#[error("convention membership: {0}")]
pub struct MembersError(String);

fn err(e: impl std::fmt::Display) -> MembersError {
    MembersError(e.to_string())
}

/// The bucket, created if it is missing.
async fn bucket(link: &Link) -> Result<kv::Store, MembersError> {
    bucket_of(link.client(), link.name()).await
}

/// The bucket of convention `convention`, created if it is missing.
async fn bucket_of(client: &async_nats::Client, convention: &str) -> Result<kv::Store, MembersError> {
    let js = async_nats::jetstream::new(client.clone());
    let config = kv::Config {
        bucket: format!("{convention}-members"),
        description: "thespian-director convention members".into(),
        history: 1,
        max_age: GONE_AFTER,
        max_value_size: MAX_RECORD,
        ..Default::default()
    };
    js.create_or_update_key_value(config).await.map_err(err)
}

/// Triggers a heartbeat before the next tick (what the member runs changed).
#[derive(Clone)]
pub struct Heartbeat(Arc<tokio::sync::Notify>);

impl Heartbeat {
    /// Writes the record again now, without waiting for the next tick.
    pub fn beat_now(&self) {
        self.0.notify_one();
    }
}

/// Writes this member's record now, then every [`HEARTBEAT`] (or at once
/// after [`Heartbeat::beat_now`]) from a task on the link's runtime, asking
/// `record` each time what to say. Returns once the first write is done
/// (so a member is listed when `start` returns).
pub fn start_heartbeat(
    link: &Link,
    record: impl Fn() -> MemberRecord + Send + Sync + 'static,
) -> Result<Heartbeat, MembersError> {
    let store = link.block_on(bucket(link))?;
    let first = record();
    link.block_on(put(&store, &first))?;
    let wake = Arc::new(tokio::sync::Notify::new());
    let woken = wake.clone();
    link.spawn(async move {
        loop {
            let _ = tokio::time::timeout(HEARTBEAT, woken.notified()).await;
            if let Err(e) = put(&store, &record()).await {
                log::warn!("{e}");
            }
        }
    });
    Ok(Heartbeat(wake))
}

async fn put(store: &kv::Store, record: &MemberRecord) -> Result<(), MembersError> {
    let bytes = serde_json::to_vec(record).map_err(err)?;
    store.put(&record.name, bytes.into()).await.map(drop).map_err(err)
}

/// Deletes this member's record (a clean shutdown).
pub fn leave(link: &Link, name: &str) -> Result<(), MembersError> {
    link.block_on(async {
        let store = bucket(link).await?;
        store.delete(name).await.map_err(err)
    })
}

/// Every member's record, by key.
pub fn members(link: &Link) -> Result<Vec<MemberListing>, MembersError> {
    link.block_on(list(link.client(), link.name()))
}

/// [`members`], for a task on the link's runtime.
pub async fn list(client: &async_nats::Client, convention: &str) -> Result<Vec<MemberListing>, MembersError> {
    let store = bucket_of(client, convention).await?;
    // The keys from the stream's subjects: no consumer per listing (a
    // consumer each, as kv's keys() makes, runs into the server's limit
    // under frequent listing).
    let prefix = store.prefix.clone();
    let mut subjects = store.stream.info_with_subjects(format!("{prefix}>")).await.map_err(err)?;
    let mut out = Vec::new();
    while let Some(subject) = subjects.next().await {
        let (subject, _) = subject.map_err(err)?;
        let Some(key) = subject.strip_prefix(&prefix).map(str::to_string) else { continue };
        if out.len() == MAX_MEMBERS {
            break;
        }
        let value = store.get(&key).await.map_err(err)?;
        if let Some(bytes) = value {
            out.push(read_record(key, &bytes));
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// Member `name`'s record, read from the bucket now (`None` if it has
/// none, or an unreadable one). `name` may be anyone's word: a name that
/// is not a valid key is an error, never a wildcard.
pub async fn record_of(
    client: &async_nats::Client,
    convention: &str,
    name: &str,
) -> Result<Option<MemberRecord>, MembersError> {
    let store = bucket_of(client, convention).await?;
    let value = store.get(name).await.map_err(err)?;
    Ok(value.and_then(|bytes| read_record(name.to_string(), &bytes).record))
}

/// Parses a record read from the bucket; never trusts it to be well-formed.
fn read_record(key: String, bytes: &[u8]) -> MemberListing {
    match serde_json::from_slice::<MemberRecord>(bytes) {
        Ok(r) if r.name == key => MemberListing { key, record: Some(r), unreadable: None },
        Ok(r) => {
            let why = format!("the record under {key:?} says it is {:?}", r.name);
            MemberListing { key, record: None, unreadable: Some(why) }
        }
        Err(e) => MemberListing { key, record: None, unreadable: Some(format!("not a member record: {e}")) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_must_parse_and_name_its_own_key() {
        let r = MemberRecord {
            name: "m1".into(),
            pid: 7,
            leader: true,
            capabilities: serde_json::json!({"Worker": true}),
            versions: vec!["foo 1.0 ab*".into()],
            refused: vec![],
            unloaded: vec![],
            packages: vec![],
            settled: true,
            block: 1,
            actors: vec![],
        };
        let bytes = serde_json::to_vec(&r).unwrap();
        assert_eq!(read_record("m1".into(), &bytes).record, Some(r));
        assert!(read_record("m2".into(), &bytes).unreadable.unwrap().contains("says it is \"m1\""));
        assert!(read_record("m1".into(), b"{").unreadable.unwrap().starts_with("not a member record"));
    }
}
