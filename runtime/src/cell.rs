//! One actor's runtime record: mailbox (with its scheduling flag), body and family.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use actor_abi::{Actor, Address};

use crate::mailbox::Mailbox;
use crate::plugin::code::{Instance, PluginCode};
use crate::plugin::version::Version;
use crate::reply::ReplySlot;

/// Where an actor runs.
pub(crate) enum Place {
    /// On the host's threads.
    Host,
    /// On the threads of one loaded package version.
    Package(Arc<Version>),
    /// Not an actor: the reply slot of one ask.
    Reply(Arc<ReplySlot>),
}

/// The actor object itself.
pub(crate) enum Body {
    /// A host actor.
    Host(Box<dyn Actor>),
    /// A package actor not constructed yet (it is built on its own thread).
    Pending { class_index: u32, code: Arc<PluginCode> },
    /// A constructed package actor.
    Plugin { instance: Instance, code: Arc<PluginCode> },
    /// Stopped; nothing left to drop.
    Stopped,
}

/// An actor's record.
pub(crate) struct ActorCell {
    pub(crate) addr: Address,
    pub(crate) place: Place,
    pub(crate) class: String,
    pub(crate) parent: Option<Address>,
    pub(crate) global_name: Option<String>,
    pub(crate) created: SystemTime,
    pub(crate) mailbox: Mailbox,
    stopped: AtomicBool,
    body: Mutex<Body>,
    children: Mutex<Vec<Address>>,
}

/// What a new cell is made of.
pub(crate) struct CellSpec {
    pub(crate) addr: Address,
    pub(crate) place: Place,
    pub(crate) class: String,
    pub(crate) parent: Option<Address>,
    pub(crate) global_name: Option<String>,
    pub(crate) body: Body,
}

impl ActorCell {
    pub(crate) fn new(spec: CellSpec) -> Arc<Self> {
        Arc::new(ActorCell {
            addr: spec.addr,
            place: spec.place,
            class: spec.class,
            parent: spec.parent,
            global_name: spec.global_name,
            created: SystemTime::now(),
            mailbox: Mailbox::new(),
            stopped: AtomicBool::new(false),
            body: Mutex::new(spec.body),
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

    pub(crate) fn body(&self) -> MutexGuard<'_, Body> {
        self.body.lock().unwrap_or_else(|p| p.into_inner())
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
        match &self.place {
            Place::Package(v) => Some(v),
            _ => None,
        }
    }
}
