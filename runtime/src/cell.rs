//! One actor's runtime record: mailbox, scheduling flag, body and family.

use std::sync::atomic::{AtomicBool, Ordering, fence};
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
    scheduled: AtomicBool,
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
            scheduled: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            body: Mutex::new(spec.body),
            children: Mutex::new(Vec::new()),
        })
    }

    /// Claims the right to run this actor; true if the caller must submit it.
    ///
    /// Scheduling is a Dekker-style handshake between a sender (push to the
    /// mailbox, then claim) and the worker (release, then look at the
    /// mailbox): each side writes one location and reads the other, so both
    /// need a SeqCst fence between the two, or a push can be missed by the
    /// worker while the sender still sees the actor as scheduled (a lost
    /// wakeup, seen as an ask that never returned).
    pub(crate) fn try_schedule(&self) -> bool {
        fence(Ordering::SeqCst);
        !self.scheduled.swap(true, Ordering::SeqCst)
    }

    /// Gives the right to run back after a batch; the caller then checks the
    /// mailbox again (see [`ActorCell::try_schedule`]).
    pub(crate) fn unschedule(&self) {
        self.scheduled.store(false, Ordering::SeqCst);
        fence(Ordering::SeqCst);
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
