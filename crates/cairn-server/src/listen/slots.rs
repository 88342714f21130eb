//! The connection cap: a table of the open connections, each with a count of requests in
//! flight and a mark of when it last went idle, and the rule that makes room for a new
//! connection by evicting the one idle the longest.
//!
//! A connection is *idle* while no request is in flight on it: freshly opened, between
//! keep-alive requests, or still sending a request's headers. A request is in flight from the
//! moment hyper hands it to the service until its response body is finished or dropped. Only
//! idle connections are ever evicted, so no answer is cut off to make room.
//!
//! Eviction is decided here, under the table's lock, by marking the victim (a compare-and-swap
//! from "idle, not evicted" to "evicted", so a request that starts at the same instant is
//! never mistaken for idle); the victim's task sees the mark through [`Slot::evicted`] and
//! closes the connection. An evicted connection no longer counts against the cap, so the
//! table never admits more than the cap of connections that are not on their way out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use crate::config::DEFAULT_MAX_CONNECTIONS;

/// Descriptors kept free for SQLite, blob files, temporary uploads and the listener itself.
pub(crate) const DESCRIPTOR_RESERVE: u64 = 64;

/// Evicted connections still closing that may stand beside a full table: an evicted connection
/// keeps its descriptor until its task has closed it, so the accept loop waits for them rather
/// than let a burst of new connections run the process out of descriptors.
pub(crate) const CLOSING_SLACK: usize = 8;

/// The smallest cap the open-file limit can push the default down to.
pub(crate) const MIN_CONNECTIONS: usize = 8;

/// The high bit of [`Slot::state`]: the connection was chosen for eviction.
const EVICTED: usize = 1 << (usize::BITS - 1);

/// The open connections and the cap on them.
#[derive(Debug)]
pub(crate) struct Slots {
    max: usize,
    table: Mutex<Table>,
    /// A logical clock: each request's end takes the next tick, so a smaller tick means idle
    /// for longer (no wall clock needed, and tests are deterministic).
    clock: Arc<AtomicU64>,
}

#[derive(Debug, Default)]
struct Table {
    next_id: u64,
    /// Connections not yet evicted.
    counted: usize,
    live: HashMap<u64, Arc<Slot>>,
}

/// One connection's entry.
#[derive(Debug)]
pub(crate) struct Slot {
    /// Requests in flight, plus [`EVICTED`] once the connection was chosen for eviction.
    state: AtomicUsize,
    /// The clock tick at which the connection last became idle.
    idle_since: AtomicU64,
    /// Whether a request ever started on this connection.
    served: AtomicBool,
    evict: Notify,
    clock: Arc<AtomicU64>,
}

/// Keeps a connection in the table; dropping it (when the connection's task ends) frees the
/// entry.
#[derive(Debug)]
pub(crate) struct SlotGuard {
    slots: Arc<Slots>,
    id: u64,
    slot: Arc<Slot>,
}

/// A request in flight on a connection; dropping it marks the connection idle again if it was
/// the last one.
#[derive(Debug)]
pub(crate) struct InFlight {
    slot: Arc<Slot>,
}

impl Slots {
    /// A table that admits at most `max` connections (at least one).
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max: max.max(1),
            table: Mutex::new(Table::default()),
            clock: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The cap.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// Whether the table, evicted connections still closing included, is as full as it may
    /// get; then no connection should be accepted until one has closed.
    pub(crate) fn saturated(&self) -> bool {
        self.open() >= self.max + CLOSING_SLACK
    }

    /// Connections in the table, evicted ones still closing included.
    pub(crate) fn open(&self) -> usize {
        self.lock().live.len()
    }

    /// Admits a new connection, evicting the connection idle the longest when the table is
    /// full. `None` when it is full of busy connections.
    pub(crate) fn admit(self: &Arc<Self>) -> Option<SlotGuard> {
        let mut table = self.lock();
        if table.counted >= self.max && !Self::evict_idlest(&mut table) {
            return None;
        }
        let id = table.next_id;
        table.next_id += 1;
        table.counted += 1;
        let slot = Arc::new(Slot {
            state: AtomicUsize::new(0),
            idle_since: AtomicU64::new(self.clock.fetch_add(1, Ordering::Relaxed)),
            served: AtomicBool::new(false),
            evict: Notify::new(),
            clock: Arc::clone(&self.clock),
        });
        table.live.insert(id, Arc::clone(&slot));
        Some(SlotGuard {
            slots: Arc::clone(self),
            id,
            slot,
        })
    }

    /// Evicts the connection idle the longest, if any is idle (to free a descriptor after the
    /// listener ran out of them). Says whether one was.
    pub(crate) fn evict_one(&self) -> bool {
        Self::evict_idlest(&mut self.lock())
    }

    fn evict_idlest(table: &mut Table) -> bool {
        let mut idle: Vec<(u64, &Arc<Slot>)> = table
            .live
            .values()
            .filter(|slot| slot.state.load(Ordering::Acquire) == 0)
            .map(|slot| (slot.idle_since.load(Ordering::Relaxed), slot))
            .collect();
        idle.sort_unstable_by_key(|(since, _)| *since);
        // A request may start between the filter and the swap; then try the next one.
        let evicted = idle.into_iter().any(|(_, slot)| {
            let marked = slot
                .state
                .compare_exchange(0, EVICTED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok();
            if marked {
                slot.evict.notify_one();
            }
            marked
        });
        if evicted {
            table.counted -= 1;
        }
        evicted
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // The table stays consistent even if a holder panicked: every update is one statement.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl SlotGuard {
    /// The connection's entry.
    pub(crate) fn slot(&self) -> &Arc<Slot> {
        &self.slot
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let mut table = self.slots.lock();
        if table.live.remove(&self.id).is_some()
            && self.slot.state.load(Ordering::Acquire) & EVICTED == 0
        {
            table.counted -= 1;
        }
    }
}

impl Slot {
    /// Marks a request as started; it ends when the returned guard is dropped.
    pub(crate) fn begin(self: &Arc<Self>) -> InFlight {
        self.served.store(true, Ordering::Relaxed);
        self.state.fetch_add(1, Ordering::AcqRel);
        InFlight {
            slot: Arc::clone(self),
        }
    }

    /// Whether no request is in flight.
    pub(crate) fn is_idle(&self) -> bool {
        self.state.load(Ordering::Acquire) & !EVICTED == 0
    }

    /// Whether a request ever started on this connection (so closing it may have to flush a
    /// response first).
    pub(crate) fn has_served(&self) -> bool {
        self.served.load(Ordering::Relaxed)
    }

    /// Resolves once the connection was chosen for eviction.
    pub(crate) async fn evicted(&self) {
        self.evict.notified().await;
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let slot = &self.slot;
        slot.idle_since.store(
            slot.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        slot.state.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The cap [`crate::serve`] applies: `configured` (or [`DEFAULT_MAX_CONNECTIONS`]), lowered to
/// leave [`DESCRIPTOR_RESERVE`] of the soft open-file limit `nofile` free, but never below
/// [`MIN_CONNECTIONS`]. `nofile` is `None` when unlimited or unknown.
pub(crate) fn connection_cap(configured: Option<usize>, nofile: Option<u64>) -> usize {
    let wanted = configured.unwrap_or(DEFAULT_MAX_CONNECTIONS);
    let Some(nofile) = nofile else {
        return wanted;
    };
    let room = usize::try_from(nofile.saturating_sub(DESCRIPTOR_RESERVE)).unwrap_or(usize::MAX);
    wanted.min(room.max(MIN_CONNECTIONS))
}

/// The process's soft limit on open descriptors (`ulimit -n`); `None` when unlimited or not a
/// Unix system.
pub(crate) fn open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_cap(configured: Option<usize>, nofile: Option<u64>, expected: usize) {
        assert_eq!(
            connection_cap(configured, nofile),
            expected,
            "{configured:?} {nofile:?}"
        );
    }

    #[test]
    fn the_cap_leaves_descriptors_free() {
        check_cap(None, None, 1024);
        check_cap(None, Some(1_048_576), 1024);
        check_cap(None, Some(1024), 960);
        check_cap(None, Some(128), 64);
        check_cap(None, Some(20), MIN_CONNECTIONS);
        check_cap(Some(10), Some(128), 10);
        check_cap(Some(5000), Some(4096), 4032);
        check_cap(Some(5000), None, 5000);
    }

    #[test]
    fn a_full_table_evicts_the_connection_idle_the_longest() {
        let slots = Slots::new(3);
        let first = slots.admit().unwrap_or_else(|| panic!("room"));
        let second = slots.admit().unwrap_or_else(|| panic!("room"));
        let third = slots.admit().unwrap_or_else(|| panic!("room"));
        // `first` serves a request, so `second` is now the one idle the longest.
        drop(first.slot().begin());
        let fourth = slots
            .admit()
            .unwrap_or_else(|| panic!("an idle one is evicted"));
        assert!(second.slot().state.load(Ordering::Acquire) & EVICTED != 0);
        assert!(first.slot().state.load(Ordering::Acquire) & EVICTED == 0);
        assert_eq!(slots.open(), 4, "the evicted one is still closing");
        drop(second);
        assert_eq!(slots.open(), 3);
        // All busy: no room.
        let busy = [
            first.slot().begin(),
            third.slot().begin(),
            fourth.slot().begin(),
        ];
        assert!(slots.admit().is_none());
        assert!(!slots.evict_one());
        // One request ends: its connection makes room.
        let [one, _two, _three] = busy;
        drop(one);
        assert!(first.slot().is_idle() && first.slot().has_served());
        assert!(slots.admit().is_some());
        assert!(first.slot().state.load(Ordering::Acquire) & EVICTED != 0);
    }

    /// Evicted connections still hold their descriptors until they close: once the cap plus
    /// the slack of them stand in the table, the server must wait before accepting more.
    #[test]
    fn evicted_connections_still_closing_saturate_the_table() {
        let slots = Slots::new(2);
        let mut guards = Vec::new();
        for _ in 0..2 + CLOSING_SLACK {
            assert!(!slots.saturated());
            // Every admission past the cap evicts an idle connection, which stays open.
            guards.push(
                slots
                    .admit()
                    .unwrap_or_else(|| panic!("an idle one is evictable")),
            );
        }
        assert_eq!(slots.open(), 2 + CLOSING_SLACK);
        assert!(slots.saturated());
        guards.remove(0);
        assert!(!slots.saturated());
    }

    #[test]
    fn a_closed_connection_frees_its_place() {
        let slots = Slots::new(1);
        let only = slots.admit();
        assert!(only.is_some());
        let _request = only.as_ref().map(|guard| guard.slot().begin());
        assert!(slots.admit().is_none());
        drop(only);
        assert!(slots.admit().is_some());
        assert_eq!(slots.max(), 1);
    }
}
