//! One actor's runtime record: what kind of cell it is, its mailbox (with
//! the scheduling flag), the actor object itself and its family.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use actor_abi::{Actor, Address};

use crate::engine::mailbox::Mailbox;
use crate::engine::package::version::Version;
use crate::engine::reply::ReplySlot;
use crate::native::library::{Instance, Library};

/// What a cell is, and for an actor, whose threads run it.
pub(crate) enum CellKind {
    /// On the host's threads.
    Host,
    /// On the threads of one loaded package version.
    Package(Arc<Version>),
    /// Not an actor: the reply slot of one ask.
    Reply(Arc<ReplySlot>),
}

/// The actor object itself, as its life goes on.
pub(crate) enum ActorObject {
    /// A host actor.
    Host(Box<dyn Actor>),
    /// A package actor not constructed yet (it is built on its own thread).
    Unbuilt { class_index: u32, library: Arc<Library> },
    /// A constructed package actor.
    Package { instance: Instance, library: Arc<Library> },
    /// Stopped; nothing left to drop.
    Stopped,
}

/// An actor's record.
pub(crate) struct ActorCell {
    pub(crate) addr: Address,
    pub(crate) kind: CellKind,
    pub(crate) class: String,
    pub(crate) parent: Option<Address>,
    pub(crate) global_name: Option<String>,
    pub(crate) created: SystemTime,
    pub(crate) mailbox: Mailbox,
    stopped: AtomicBool,
    object: Mutex<ActorObject>,
    children: Mutex<Vec<Address>>,
}

/// What a new cell is made of.
pub(crate) struct CellSpec {
    pub(crate) addr: Address,
    pub(crate) kind: CellKind,
    pub(crate) class: String,
    pub(crate) parent: Option<Address>,
    pub(crate) global_name: Option<String>,
    pub(crate) object: ActorObject,
}

impl ActorCell {
    pub(crate) fn new(spec: CellSpec) -> Arc<Self> {
        Arc::new(ActorCell {
            addr: spec.addr,
            kind: spec.kind,
            class: spec.class,
            parent: spec.parent,
            global_name: spec.global_name,
            created: SystemTime::now(),
            mailbox: Mailbox::new(),
            stopped: AtomicBool::new(false),
            object: Mutex::new(spec.object),
            children: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// Marks the actor stopped; true for the one caller that did it.
    pub(crate) fn mark_stopped(&self) -> bool {
        !self.stopped.swap(true, Ordering::AcqRel)
    }

    pub(crate) fn object(&self) -> MutexGuard<'_, ActorObject> {
        self.object.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn add_child(&self, child: Address) {
        self.children.lock().unwrap_or_else(|p| p.into_inner()).push(child);
    }

    pub(crate) fn remove_child(&self, child: Address) {
        self.children.lock().unwrap_or_else(|p| p.into_inner()).retain(|c| *c != child);
    }

    pub(crate) fn take_children(&self) -> Vec<Address> {
        std::mem::take(&mut *self.children.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The package version this actor runs in, if any.
    pub(crate) fn version(&self) -> Option<&Arc<Version>> {
        match &self.kind {
            CellKind::Package(v) => Some(v),
            _ => None,
        }
    }
}
