//! Plugin-owned messages the host carries without reading them
//! ([`KIND_OPAQUE`](crate::ffi::KIND_OPAQUE)): how they are handed over, lent
//! back for a delivery, and dropped.
//!
//! Two forms cross the boundary as (`opaque`, `opaque_meta`):
//! - a value for an actor of the same package: a `Box<Message>`, meta null;
//! - a typed message: its own `Box<dyn Any + Send>` split into its two
//!   pointers, so a send costs no `Message` box (a zero-sized type costs no
//!   allocation at all). Only this library turns the pair back into a box.

use std::any::Any;
use std::ffi::c_void;
use std::mem::ManuallyDrop;

use crate::address::Address;
use crate::message::Message;

/// The two halves of a typed message's box, as they cross the boundary.
pub(crate) type TypedParts = [*mut c_void; 2];

/// Splits a typed message's box into the pointers the host carries.
pub(crate) fn typed_into_parts(b: Box<dyn Any + Send>) -> TypedParts {
    let raw: *mut (dyn Any + Send) = Box::into_raw(b);
    // SAFETY: a trait-object pointer is two pointers wide (transmute checks
    // the size). The halves are only ever put back together, unchanged, by
    // `typed_from_parts` in this same library, which restores the same bits.
    unsafe { std::mem::transmute::<*mut (dyn Any + Send), TypedParts>(raw) }
}

/// Rebuilds a typed message's box from its halves.
///
/// # Safety
/// `parts` must come from [`typed_into_parts`] in this library and must not
/// have been rebuilt into a box that is still alive or was dropped.
pub(crate) unsafe fn typed_from_parts(parts: TypedParts) -> Box<dyn Any + Send> {
    // SAFETY: the inverse of the transmute in `typed_into_parts`; the caller
    // guarantees the box is live and owned by nobody else now.
    unsafe { Box::from_raw(std::mem::transmute::<TypedParts, *mut (dyn Any + Send)>(parts)) }
}

/// Drops a message the host gives back.
///
/// # Safety
/// `(msg, meta)` must be an opaque message this library handed to the host,
/// which gives up its ownership with this call.
pub(crate) unsafe fn drop_opaque(msg: *mut c_void, meta: *mut c_void) {
    if meta.is_null() {
        // SAFETY: meta null means `msg` is a Box<Message> from this library.
        drop(unsafe { Box::from_raw(msg.cast::<Message>()) });
    } else {
        // SAFETY: a non-null meta means the pair is a typed message's box.
        drop(unsafe { typed_from_parts([msg, meta]) });
    }
}

/// Lends the host-owned message `(msg, meta)` to `f` as a [`Message`].
///
/// # Safety
/// `(msg, meta)` must be a live opaque message of this library that the
/// host keeps owning; it is only borrowed here.
pub(crate) unsafe fn lend<R>(msg: *mut c_void, meta: *mut c_void, f: impl FnOnce(&Message) -> R) -> R {
    if meta.is_null() {
        // SAFETY: a live Box<Message> of this library, only borrowed.
        return f(unsafe { &*msg.cast::<Message>() });
    }
    // SAFETY: a live typed box; ManuallyDrop keeps it from being dropped
    // here, so the host's ownership is untouched.
    let typed = ManuallyDrop::new(Message::Typed(unsafe { typed_from_parts([msg, meta]) }));
    f(&typed)
}

/// Lends a `PoisonMessage` whose original is the host-owned `(msg, meta)`.
///
/// # Safety
/// As for [`lend`].
pub(crate) unsafe fn lend_poisoned<R>(
    msg: *mut c_void,
    meta: *mut c_void,
    target: Address,
    details: String,
    f: impl FnOnce(&Message) -> R,
) -> R {
    let original = if meta.is_null() {
        // SAFETY: a live Box<Message> of this library (see `lend`).
        unsafe { Box::from_raw(msg.cast::<Message>()) }
    } else {
        // SAFETY: a live typed box (see `lend`), in a box of our own.
        Box::new(Message::Typed(unsafe { typed_from_parts([msg, meta]) }))
    };
    // If `f` unwinds, the poison is leaked rather than dropped: the host's
    // parts must never be freed here.
    let poison = ManuallyDrop::new(Message::PoisonMessage { original, target, details });
    let out = f(&poison);
    if let Message::PoisonMessage { original, .. } = ManuallyDrop::into_inner(poison) {
        // Give the host's parts back; only what was made here is dropped.
        if meta.is_null() {
            let _ = Box::into_raw(original);
        } else if let Message::Typed(b) = *original {
            let _ = typed_into_parts(b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn typed_parts_round_trip_and_drop_once() {
        let drops = Arc::new(AtomicUsize::new(0));
        let [data, meta] = typed_into_parts(Box::new(Counted(drops.clone())));
        // SAFETY: the parts were just made and are owned here.
        let seen = unsafe { lend(data, meta, |m| m.downcast_ref::<Counted>().is_some()) };
        assert!(seen, "the lent message is the typed value");
        let target = Address::NOBODY;
        // SAFETY: as above; still owned here after lend.
        let poisoned = unsafe {
            lend_poisoned(data, meta, target, "boom".into(), |m| match m {
                Message::PoisonMessage { original, details, .. } => {
                    original.downcast_ref::<Counted>().is_some() && details == "boom"
                }
                _ => false,
            })
        };
        assert!(poisoned);
        assert_eq!(drops.load(Ordering::SeqCst), 0, "lending never drops the host's message");
        // SAFETY: ownership given back once.
        unsafe { drop_opaque(data, meta) };
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn boxed_messages_are_lent_and_dropped() {
        let raw = Box::into_raw(Box::new(Message::Value(7.into()))).cast::<c_void>();
        let null = std::ptr::null_mut();
        // SAFETY: `raw` is a live Box<Message> owned here.
        let v = unsafe { lend(raw, null, |m| m.value().and_then(crate::Value::as_i64)) };
        assert_eq!(v, Some(7));
        // SAFETY: as above.
        let p = unsafe { lend_poisoned(raw, null, Address::NOBODY, String::new(), |m| m.is_system()) };
        assert!(p);
        // SAFETY: given back once.
        unsafe { drop_opaque(raw, null) };
    }
}
