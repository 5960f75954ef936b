//! The per-thread cache of compiled problems.
//!
//! Each worker thread keeps, for every live model, the problems it has compiled for it: one
//! per linear-algebra backend for plain solves, and one per backend and number of fitted
//! parameters for sensitivity solves. A problem is taken out of the cache for the duration of
//! a solve and put back afterwards (a problem that panicked is dropped instead, and the next
//! solve on that thread compiles afresh). Entries of dropped models are purged whenever the
//! cache is consulted.

use crate::model::ModelInner;
use crate::simulate::panic_message;
use crate::{Backend, DiffslModel, OdeError, SolveError};
use std::any::Any;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Weak};

/// What a cached entry is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    /// Plain solves on a backend.
    Value(Backend),
    /// Forward-sensitivity solves on a backend, for this many fitted parameters.
    Sensitivities(Backend, usize),
}

struct Slot {
    id: u64,
    alive: Weak<ModelInner>,
    entries: Vec<(Key, Box<dyn Any>)>,
}

thread_local! {
    static CACHE: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
}

/// Takes this thread's entry `key` of `model` out of the cache, if there is one of type `T`.
pub(crate) fn take<T: 'static>(model: &DiffslModel, key: Key) -> Option<Box<T>> {
    CACHE.with_borrow_mut(|cache| {
        cache.retain(|s| s.alive.strong_count() > 0);
        let slot = cache.iter_mut().find(|s| s.id == model.inner.id)?;
        let at = slot.entries.iter().position(|(k, _)| *k == key)?;
        let (_, entry) = slot.entries.swap_remove(at);
        entry.downcast::<T>().ok()
    })
}

/// Returns an entry to this thread's cache.
pub(crate) fn put_back<T: 'static>(model: &DiffslModel, key: Key, entry: Box<T>) {
    CACHE.with_borrow_mut(|cache| {
        let at = if let Some(i) = cache.iter().position(|s| s.id == model.inner.id) {
            i
        } else {
            cache.push(Slot {
                id: model.inner.id,
                alive: Arc::downgrade(&model.inner),
                entries: Vec::new(),
            });
            cache.len() - 1
        };
        let slot = &mut cache[at];
        slot.entries.retain(|(k, _)| *k != key);
        slot.entries.push((key, entry));
    });
}

/// Makes sure this thread has the entry `key` of `model`, compiling it with `compile` now
/// (so that its errors surface where the caller can report them) when absent.
pub(crate) fn warm<T: 'static>(
    model: &DiffslModel,
    key: Key,
    compile: impl FnOnce() -> Result<Box<T>, OdeError>,
) -> Result<(), OdeError> {
    let entry = match take::<T>(model, key) {
        Some(e) => e,
        None => compile()?,
    };
    put_back(model, key, entry);
    Ok(())
}

/// Runs `solve` on this thread's entry `key` of `model`, compiled by `compile` when absent,
/// and puts the entry back afterwards. A panic inside `solve` is caught and reported as
/// [`SolveError::Panicked`]; the entry is then dropped (it may be inconsistent) and the next
/// solve on this thread compiles afresh.
pub(crate) fn with_entry<T: 'static>(
    model: &DiffslModel,
    key: Key,
    compile: impl FnOnce() -> Result<Box<T>, OdeError>,
    solve: impl FnOnce(&mut T) -> Result<(), SolveError>,
) -> Result<(), SolveError> {
    let mut entry = match take::<T>(model, key) {
        Some(e) => e,
        None => compile().map_err(|e| SolveError::Solver {
            t: f64::NAN,
            message: format!("the model could not be compiled on this thread: {e}"),
        })?,
    };
    match catch_unwind(AssertUnwindSafe(|| solve(&mut entry))) {
        Ok(r) => {
            put_back(model, key, entry);
            r
        }
        Err(p) => Err(SolveError::Panicked {
            message: panic_message(p.as_ref()),
        }),
    }
}
