//! A scope's child slots ([`Slots`]): paged, struct-of-arrays storage of 20
//! bytes per slot (issue 11: a pending leaf costs at most 24 bytes outside
//! the executor's task cell).
//!
//! # Layout
//!
//! A slot is a waker (`Option<Waker>`, 16 bytes) and a 4-byte *meta* word:
//! the slot's [`State`] in the low 4 bits, its reference count (I5) above
//! them. The two live in separate arrays, so a slot takes 20 bytes where a
//! record of both would be padded to 24. The arrays come in [`Group`]s of
//! four slots (four wakers, then four meta words: 80 bytes, no padding), so
//! that a page is one allocation.
//!
//! The first 1,024 slots (keys below [`MAX_PAGE`]) are the *head*: one
//! allocation that grows as a `Vec` does, doubling from 4 slots, so that a
//! scope with a few children allocates as little as it needs, and one that
//! grows reallocates as a `Vec` would (the allocation pattern of the `slab`
//! this replaced; smaller separate pages left many small blocks behind that
//! made glibc's `malloc_consolidate` a tenth of a tree's wall time). Past
//! the head, slots live in *pages* of [`MAX_PAGE`] slots that never move:
//! growth allocates a new page and copies nothing, so at 100,000 children
//! the storage is at most 1,023 slots (20 KiB) more than the children, 0.2
//! bytes per child (`cargo bench --bench memory` measures 20.1 bytes per
//! pending leaf over bare tokio's), where a `Vec` doubled to 131,072 slots.
//! Key → (page, index) is a shift and a mask ([`locate`]).
//!
//! # Free slots
//!
//! A vacant slot's meta word holds the [`VACANT`] tag in the state bits and,
//! above it, the index (within its page) of the next freed slot of the
//! same page: each page keeps its own free list of the slots freed so far,
//! and beside it the never-used slots from [`Page::fresh`] to its end, taken
//! in order (so a new page is a plain fill, with no list threaded through
//! it). The pages with a vacant slot form a list of their own
//! ([`Page::next_free`]). Insertion and
//! removal are O(1) and allocate nothing but a new page, and a vacant slot
//! costs no more than an occupied one. A page's free list needs 10 bits, not
//! a whole key: keys go up to 2^32 - 2 whatever the reference count's width.
//! A removed key is reused (the next insertion takes the latest freed slot
//! of the latest page that gained one), only after its removal: the caller
//! removes a slot only when it is done and nothing names it (I5).

use std::task::Waker;

use super::{Asked, State};
use crate::cause::By;

/// Slots in the head (at most) and in every page after it.
const MAX_PAGE: usize = 1024;
/// `log2(MAX_PAGE)`.
const MAX_SHIFT: u32 = MAX_PAGE.trailing_zeros();
/// Slots per group.
const LANES: usize = 4;

const _: () = assert!(MAX_PAGE.is_power_of_two() && MAX_PAGE % LANES == 0);

/// Bits of the meta word that hold the state.
const STATE_BITS: u32 = 4;
const STATE_MASK: u32 = (1 << STATE_BITS) - 1;
/// The state bits of a vacant slot (no [`State`] encodes to it).
const VACANT: u32 = STATE_MASK;
/// One reference, in the meta word.
const ONE_REF: u32 = 1 << STATE_BITS;
/// The most references a slot can hold: 2^28 - 1.
const MAX_REFS: u32 = u32::MAX >> STATE_BITS;
/// The end of a free list (of a page's slots, or of the pages).
const NIL: u32 = u32::MAX >> STATE_BITS;

const _: () = assert!((MAX_PAGE as u32) < NIL);

/// Four slots: their wakers, then their meta words (no padding).
struct Group {
    wakers: [Option<Waker>; LANES],
    meta: [u32; LANES],
}

impl Group {
    /// Four vacant slots, in no free list (fresh: see [`Page::fresh`]).
    fn vacant() -> Self {
        Group {
            wakers: [None, None, None, None],
            meta: [vacant(NIL); LANES],
        }
    }
}

// 20 bytes a slot (issue 11: at most 24 per pending leaf, outside the
// executor's task cell).
const _: () = assert!(std::mem::size_of::<Group>() == 20 * LANES);

/// The head (page 0, which grows) or a page of [`MAX_PAGE`] slots that
/// never moves, with its free list.
struct Page {
    groups: Vec<Group>,
    /// Index of the latest freed slot of this page, the head of its free
    /// list, or `NIL` if none is free.
    free: u32,
    /// Slots from here to `end` have never been used, and are not in the
    /// free list: a new page threads no list through its slots. The head
    /// allocates them as it reaches them.
    fresh: u32,
    /// The number of usable slots ([`MAX_PAGE`], or fewer if the last ones'
    /// keys would reach `LIMIT`).
    end: u32,
    /// While the page has room (`free != NIL || fresh < end`): the next page
    /// with room, or `NIL`.
    next_free: u32,
}

impl Page {
    /// Whether no slot of the page is vacant.
    #[inline]
    fn is_full(free: u32, fresh: u32, end: u32) -> bool {
        free == NIL && fresh == end
    }
}

/// The child slots of one scope (`Children::slots`), keyed by `usize`
/// keys below `LIMIT` (`u32::MAX`: keys fit in 32 bits; a smaller one in
/// the unit tests).
pub(super) struct Slots<const LIMIT: usize = { u32::MAX as usize }> {
    /// Page 0: keys below [`MAX_PAGE`].
    head: Page,
    /// Pages 1 and up.
    more: Vec<Page>,
    /// The latest page that gained a vacant slot: the head of the list of
    /// pages with one, through [`Page::next_free`]; `NIL` if none has.
    free: u32,
}

/// One slot, borrowed from [`Slots`]: its state, waker and references.
/// The transitions of the slot's lifecycle are methods of this view, in
/// tree.rs.
pub(super) struct SlotMut<'a> {
    waker: &'a mut Option<Waker>,
    meta: &'a mut u32,
}

/// One slot, found by its key ([`Slots::get_mut`]): a [`SlotMut`] (by
/// `Deref`) that can also drop a reference and remove the slot
/// ([`release`](Entry::release)), with no second look-up of the key.
pub(super) struct Entry<'a> {
    slot: SlotMut<'a>,
    /// The slot's page: its free list, its fresh slots, and where it is in
    /// the list of pages with a vacant slot.
    page_free: &'a mut u32,
    page_fresh: u32,
    page_end: u32,
    page_next_free: &'a mut u32,
    /// `Slots::free`.
    free: &'a mut u32,
    page: u32,
    index: u32,
}

/// The page and the index in it of slot `key`.
#[inline]
fn locate(key: usize) -> (usize, usize) {
    (key >> MAX_SHIFT, key & (MAX_PAGE - 1))
}

/// The key of the first slot of page `page`.
#[inline]
fn page_start(page: usize) -> usize {
    page << MAX_SHIFT
}

/// The number of usable slots of page `page` under `limit`.
fn page_end(page: usize, limit: usize) -> u32 {
    // At most `MAX_PAGE`: no truncation.
    #[allow(clippy::cast_possible_truncation)]
    let end = limit.saturating_sub(page_start(page)).min(MAX_PAGE) as u32;
    end
}

/// A vacant slot's meta word, whose successor in its page's free list is
/// `next` (or `NIL`).
#[inline]
fn vacant(next: u32) -> u32 {
    (next << STATE_BITS) | VACANT
}

/// A state's code, in the low bits of the meta word ([`decode`] is the
/// inverse; no state has the code [`VACANT`]).
///
/// Running is 0, then four codes each (one per [`By`], in its order) for
/// Stopping, Cancelled and Done after a cancel, and one each for Done
/// after nothing or a stop request: 15 codes, and [`VACANT`].
#[inline]
fn encode(state: State) -> u32 {
    match state {
        State::Running => 0,
        State::Stopping { by } => 1 + by as u32,
        State::Cancelled { by } => 5 + by as u32,
        State::Done {
            asked: Asked::Cancel(by),
        } => 9 + by as u32,
        State::Done {
            asked: Asked::Nothing,
        } => 13,
        State::Done { asked: Asked::Stop } => 14,
    }
}

/// The [`By`] of code `code % 4`.
#[inline]
fn by(code: u32) -> By {
    match code & 3 {
        0 => By::Handle,
        1 => By::Deadline,
        2 => By::Scope,
        _ => By::ChildFailed,
    }
}

#[inline]
fn decode(meta: u32) -> State {
    debug_assert!(meta & STATE_MASK != VACANT, "a vacant slot");
    // A `match`, not a table: a transition's decode, match and encode then
    // fold into a few instructions.
    match meta & STATE_MASK {
        0 => State::Running,
        code @ 1..=4 => State::Stopping { by: by(code - 1) },
        code @ 5..=8 => State::Cancelled { by: by(code - 5) },
        code @ 9..=12 => State::Done {
            asked: Asked::Cancel(by(code - 9)),
        },
        13 => State::Done {
            asked: Asked::Nothing,
        },
        _ => State::Done { asked: Asked::Stop },
    }
}

impl Page {
    /// A page with no groups (nothing allocated) and `end` usable slots.
    const fn empty(end: u32) -> Self {
        Page {
            groups: Vec::new(),
            free: NIL,
            fresh: 0,
            end,
            next_free: NIL,
        }
    }

    /// The empty head: nothing allocated.
    const fn head(limit: usize) -> Self {
        // At most `MAX_PAGE`: no truncation.
        #[allow(clippy::cast_possible_truncation)]
        let end = if limit < MAX_PAGE { limit } else { MAX_PAGE } as u32;
        Page::empty(end)
    }

    /// A new page `page` (1 or more), every slot of it vacant and fresh,
    /// but for those whose key would be `LIMIT` or more.
    #[cold]
    #[inline(never)]
    fn new(page: usize, limit: usize) -> Self {
        let mut page = Page::empty(page_end(page, limit));
        let groups = (page.end as usize).div_ceil(LANES);
        page.groups.resize_with(groups, Group::vacant);
        page
    }

    /// Grows the head to hold its next fresh slot: twice its groups, as a
    /// `Vec` grows, from one group.
    #[cold]
    #[inline(never)]
    fn extend(&mut self) {
        let len = self.groups.len();
        let target = (len * 2).max(1).min((self.end as usize).div_ceil(LANES));
        self.groups.reserve_exact(target - len);
        self.groups.resize_with(target, Group::vacant);
    }

    #[inline]
    fn slot(&mut self, index: usize) -> (&mut Option<Waker>, &mut u32) {
        let group = &mut self.groups[index / LANES];
        let lane = index % LANES;
        (&mut group.wakers[lane], &mut group.meta[lane])
    }

    #[inline]
    fn meta(&self, index: usize) -> u32 {
        self.groups[index / LANES].meta[index % LANES]
    }
}

impl<const LIMIT: usize> Slots<LIMIT> {
    /// No slot, nothing allocated.
    pub(super) const fn new() -> Self {
        Slots {
            head: Page::head(LIMIT),
            more: Vec::new(),
            free: if LIMIT > 0 { 0 } else { NIL },
        }
    }

    #[inline]
    fn page(&self, page: usize) -> &Page {
        if page == 0 {
            &self.head
        } else {
            &self.more[page - 1]
        }
    }

    /// Whether another slot fits: the key it would get is below `LIMIT`
    /// (2^32 - 1 by default; `SpawnError::TooManyChildren` otherwise).
    #[inline]
    pub(super) fn has_room(&self) -> bool {
        self.free != NIL || page_start(self.more.len() + 1) < LIMIT
    }

    /// Adds a slot in `state` with `refs` references (at least one, at most
    /// [`MAX_REFS`]) and no waker; returns its key: the slot freed last, if
    /// any, else a new one.
    ///
    /// # Panics
    /// If there is no room ([`has_room`](Self::has_room) is false; the
    /// caller checks first).
    // Always: it is the body of `Node::register`'s two copies.
    #[inline(always)]
    pub(super) fn insert(&mut self, refs: u32, state: State) -> usize {
        debug_assert!((1..=MAX_REFS).contains(&refs), "{refs} references");
        if self.free == NIL {
            self.grow();
        }
        let page_index = self.free as usize;
        let page = if page_index == 0 {
            &mut self.head
        } else {
            &mut self.more[page_index - 1]
        };
        let index = if page.free != NIL {
            // The latest freed slot.
            let index = page.free as usize;
            let (_, meta) = page.slot(index);
            page.free = *meta >> STATE_BITS;
            index
        } else {
            let index = page.fresh as usize;
            if index == page.groups.len() * LANES {
                page.extend();
            }
            page.fresh += 1;
            index
        };
        let (waker, meta) = page.slot(index);
        debug_assert!(*meta & STATE_MASK == VACANT && waker.is_none());
        *meta = (refs << STATE_BITS) | encode(state);
        if Page::is_full(page.free, page.fresh, page.end) {
            // Full now: off the list of pages with room.
            let next = page.next_free;
            self.free = next;
        }
        page_start(page_index) + index
    }

    /// Adds a new page, the only one with room.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let page = self.more.len() + 1;
        assert!(page_start(page) < LIMIT, "no room for another slot");
        self.more.push(Page::new(page, LIMIT));
        // `page < 2^22`: keys are below 2^32.
        #[allow(clippy::cast_possible_truncation)]
        let page = page as u32;
        self.free = page;
    }

    /// The state of occupied slot `key`.
    #[inline]
    pub(super) fn state(&self, key: usize) -> State {
        let (page, index) = locate(key);
        decode(self.page(page).meta(index))
    }

    /// Occupied slot `key`.
    #[inline]
    pub(super) fn get_mut(&mut self, key: usize) -> Entry<'_> {
        let (page, index) = locate(key);
        let Slots { head, more, free } = self;
        let Page {
            groups,
            free: page_free,
            fresh,
            end,
            next_free: page_next_free,
        } = if page == 0 { head } else { &mut more[page - 1] };
        let group = &mut groups[index / LANES];
        let lane = index % LANES;
        let meta = &mut group.meta[lane];
        debug_assert!(*meta & STATE_MASK != VACANT, "slot {key} is vacant");
        // `page < 2^22` and `index < MAX_PAGE`: keys are below 2^32.
        #[allow(clippy::cast_possible_truncation)]
        Entry {
            slot: SlotMut {
                waker: &mut group.wakers[lane],
                meta,
            },
            page_free,
            page_fresh: *fresh,
            page_end: *end,
            page_next_free,
            free,
            page: page as u32,
            index: index as u32,
        }
    }

    /// Drops one of slot `key`'s references: [`Entry::release`].
    #[cfg(test)]
    #[must_use = "the waker must be dropped after the lock is released (I3)"]
    fn release(&mut self, key: usize) -> Option<Waker> {
        self.get_mut(key).release().1
    }

    /// The number of occupied slots (O(capacity)).
    #[cfg(test)]
    fn len(&mut self) -> usize {
        let mut len = 0;
        self.for_each_mut(|_| len += 1);
        len
    }

    /// Calls `f` on every occupied slot, in no particular order. A loop
    /// over the groups rather than an `Iterator` of flattened pages: a
    /// close that cancels 10 children costs 39 instructions a child rather
    /// than 63 (callgrind, `tree_cancel`).
    #[inline]
    pub(super) fn for_each_mut(&mut self, mut f: impl FnMut(SlotMut<'_>)) {
        for page in std::iter::once(&mut self.head).chain(&mut self.more) {
            for group in page.groups.iter_mut() {
                for (waker, meta) in group.wakers.iter_mut().zip(&mut group.meta) {
                    if *meta & STATE_MASK != VACANT {
                        f(SlotMut { waker, meta });
                    }
                }
            }
        }
    }
}

impl<const LIMIT: usize> Slots<LIMIT> {
    /// Calls `f` with the key and state of every occupied slot, in key
    /// order (a task dump, `Node::snapshot`).
    pub(super) fn for_each_state(&self, mut f: impl FnMut(usize, State)) {
        for (page_index, page) in std::iter::once(&self.head).chain(&self.more).enumerate() {
            for (group_index, group) in page.groups.iter().enumerate() {
                for (lane, &meta) in group.meta.iter().enumerate() {
                    if meta & STATE_MASK != VACANT {
                        f(
                            page_start(page_index) + group_index * LANES + lane,
                            decode(meta),
                        );
                    }
                }
            }
        }
    }
}

impl<'a> std::ops::Deref for Entry<'a> {
    type Target = SlotMut<'a>;

    #[inline]
    fn deref(&self) -> &SlotMut<'a> {
        &self.slot
    }
}

impl<'a> std::ops::DerefMut for Entry<'a> {
    #[inline]
    fn deref_mut(&mut self) -> &mut SlotMut<'a> {
        &mut self.slot
    }
}

impl Entry<'_> {
    /// Drops one of the slot's references; the last one removes the slot,
    /// which must be [`State::Done`] by then (I5), and its key may be
    /// reused. Returns whether it removed the slot, and the removed slot's
    /// waker, if it still had one, to be dropped after the lock is released
    /// (I3).
    #[must_use = "the waker must be dropped after the lock is released (I3)"]
    #[inline]
    pub(super) fn release(self) -> (bool, Option<Waker>) {
        let Entry {
            slot: SlotMut { waker, meta },
            page_free,
            page_fresh,
            page_end,
            page_next_free,
            free,
            page,
            index,
        } = self;
        *meta -= ONE_REF;
        if *meta >= ONE_REF {
            return (false, None);
        }
        debug_assert!(!decode(*meta).is_linked(), "I5: removed before done");
        let was_full = Page::is_full(*page_free, page_fresh, page_end);
        *meta = vacant(*page_free);
        if was_full {
            // On the list of pages with room.
            *page_next_free = *free;
            *free = page;
        }
        *page_free = index;
        (true, waker.take())
    }
}

impl SlotMut<'_> {
    /// Where the task is in its life.
    #[inline]
    pub(super) fn state(&self) -> State {
        decode(*self.meta)
    }

    /// Moves the slot to `state` (the transitions in tree.rs only, I6).
    #[inline]
    pub(super) fn set_state(&mut self, state: State) {
        *self.meta = (*self.meta & !STATE_MASK) | encode(state);
    }

    /// The task's stored waker.
    #[inline]
    pub(super) fn waker(&mut self) -> &mut Option<Waker> {
        self.waker
    }

    /// Takes the task's stored waker.
    #[inline]
    pub(super) fn take_waker(&mut self) -> Option<Waker> {
        self.waker.take()
    }

    /// One more reference (I5).
    ///
    /// Aborts the process, as `Arc::clone` does, if the slot already holds
    /// [`MAX_REFS`] (2^29 - 1): every reference is a live view (at least 16
    /// bytes, so 8 GiB of views of one task) or one that was leaked with
    /// `mem::forget`. Not a panic: this runs under the scope's lock, which
    /// no library code panics under (loom.rs), and a wrapped count would
    /// free a slot that views still name.
    #[inline]
    pub(super) fn retain(&mut self) {
        if *self.meta >= MAX_REFS << STATE_BITS {
            std::process::abort();
        }
        *self.meta += ONE_REF;
    }

    /// The number of references.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn refs(&self) -> u32 {
        *self.meta >> STATE_BITS
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn locate_walks_the_pages_in_order() {
        let mut expected = (0, 0);
        let keys = if cfg!(miri) { 2_100 } else { 300_000 };
        for key in 0..keys {
            assert_eq!(locate(key), expected, "key {key}");
            assert_eq!(page_start(expected.0) + expected.1, key);
            expected.1 += 1;
            if expected.1 == MAX_PAGE {
                expected = (expected.0 + 1, 0);
            }
        }
        assert_eq!(page_start(9), 9 * 1024);
        assert_eq!(page_end(9, usize::MAX), 1024);
        assert_eq!(page_end(1, 1030), 6);
        // The last keys below 2^32.
        let last = u32::MAX as usize - 1;
        let (page, index) = locate(last);
        assert_eq!(page_start(page) + index, last);
        assert!(index < MAX_PAGE);
    }

    /// Every state, each once: Running, then the four Stopping and four
    /// Cancelled (indices 1 to 8), then the six Done (9 to 14).
    fn check_states() -> Vec<State> {
        let mut states = vec![State::Running];
        states.extend(By::ALL.map(|by| State::Stopping { by }));
        states.extend(By::ALL.map(|by| State::Cancelled { by }));
        states.push(State::Done {
            asked: Asked::Nothing,
        });
        states.push(State::Done { asked: Asked::Stop });
        states.extend(By::ALL.map(|by| State::Done {
            asked: Asked::Cancel(by),
        }));
        states
    }

    #[test]
    fn states_round_trip_and_keep_the_references() {
        let mut slots: Slots = Slots::new();
        let states = check_states();
        assert_eq!(states.len(), 15);
        let codes: std::collections::HashSet<u32> = states.iter().map(|s| encode(*s)).collect();
        assert_eq!(codes.len(), 15, "each state has its own code");
        for &state in &states {
            assert_ne!(encode(state), VACANT);
            assert_eq!(decode(encode(state)), state);
            let key = slots.insert(3, state);
            let mut slot = slots.get_mut(key);
            assert_eq!((slot.state(), slot.refs()), (state, 3));
            for &other in &states {
                slot.set_state(other);
                assert_eq!((slot.state(), slot.refs()), (other, 3));
            }
            assert_eq!(slots.state(key), states[14]);
        }
    }

    #[test]
    fn the_refs_go_up_to_the_maximum() {
        let mut slots: Slots = Slots::new();
        let stopping = State::Stopping {
            by: By::ChildFailed,
        };
        let key = slots.insert(MAX_REFS - 1, stopping);
        slots.get_mut(key).retain();
        assert_eq!(slots.get_mut(key).refs(), MAX_REFS);
        assert_eq!(slots.state(key), stopping);
        slots
            .get_mut(key)
            .set_state(State::Done { asked: Asked::Stop });
        assert!(slots.release(key).is_none());
        assert_eq!(slots.get_mut(key).refs(), MAX_REFS - 1);
        assert_eq!(slots.len(), 1);
    }

    const DONE: State = State::Done {
        asked: Asked::Nothing,
    };

    /// Inserts `n` slots with one reference; returns their keys.
    fn fill<const L: usize>(slots: &mut Slots<L>, n: usize) -> Vec<usize> {
        (0..n).map(|_| slots.insert(1, State::Running)).collect()
    }

    fn remove<const L: usize>(slots: &mut Slots<L>, key: usize) {
        slots.get_mut(key).set_state(DONE);
        assert!(slots.release(key).is_none());
    }

    #[test]
    fn a_small_scope_grows_its_head_as_a_vec_does() {
        let mut slots: Slots = Slots::new();
        assert_eq!(slots.head.groups.capacity(), 0);
        fill(&mut slots, 1);
        assert_eq!(slots.head.groups.capacity(), 1, "4 slots");
        fill(&mut slots, 4);
        assert_eq!(slots.head.groups.capacity(), 2);
        fill(&mut slots, 5);
        assert_eq!(slots.head.groups.capacity(), 4, "16 slots for 10");
        assert_eq!(slots.more.capacity(), 0, "no page list");
    }

    #[test]
    fn keys_are_dense_across_page_boundaries() {
        let mut slots: Slots = Slots::new();
        // 1,024 in the head, then 1,024 a page.
        let (n, pages) = if cfg!(miri) { (2_100, 2) } else { (5_000, 4) };
        let keys = fill(&mut slots, n);
        assert_eq!(keys, (0..n).collect::<Vec<_>>());
        assert_eq!(slots.len(), n);
        assert_eq!(slots.more.len(), pages);
        assert_eq!(slots.head.groups.len(), MAX_PAGE / LANES);
    }

    #[test]
    fn a_key_is_reused_only_after_its_removal() {
        let mut slots: Slots = Slots::new();
        let keys = fill(&mut slots, 4);
        // A second reference keeps the slot.
        slots.get_mut(2).retain();
        remove(&mut slots, 2);
        assert_eq!(slots.len(), 4);
        assert_eq!(slots.insert(1, State::Running), 4, "2 is still named");
        assert!(slots.release(2).is_none());
        assert_eq!(slots.len(), 4);
        assert_eq!(slots.insert(1, State::Running), 2);
        // Latest freed first, then the fresh ones.
        remove(&mut slots, 1);
        remove(&mut slots, 4);
        remove(&mut slots, 0);
        assert_eq!(slots.insert(1, State::Running), 0);
        assert_eq!(slots.insert(1, State::Running), 4);
        assert_eq!(slots.insert(1, State::Running), 1);
        assert_eq!(slots.insert(1, State::Running), 5);
        assert_eq!(slots.head.groups.len(), 2, "the head grew once");
        drop(keys);
    }

    #[test]
    fn wakers_are_kept_and_handed_back() {
        let mut slots: Slots = Slots::new();
        let waker = futures_task::noop_waker();
        let keys = fill(&mut slots, 10);
        for &key in &keys {
            *slots.get_mut(key).waker() = Some(waker.clone());
        }
        assert!(slots.get_mut(7).take_waker().is_some());
        assert!(slots.get_mut(7).take_waker().is_none());
        slots.get_mut(3).set_state(DONE);
        assert!(slots.release(3).is_some(), "the removed slot's waker");
        let mut with_waker = 0;
        slots.for_each_mut(|slot| with_waker += usize::from(slot.waker.is_some()));
        assert_eq!(with_waker, 8);
        // A new slot in a reused place has no waker.
        let key = slots.insert(1, State::Running);
        assert_eq!(key, 3);
        assert!(slots.get_mut(key).waker().is_none());
    }

    #[test]
    fn for_each_mut_visits_every_occupied_slot_once() {
        let mut slots: Slots = Slots::new();
        let n = if cfg!(miri) { 300 } else { 3_000 };
        let keys = fill(&mut slots, n);
        for &key in keys.iter().filter(|key| *key % 3 == 0) {
            remove(&mut slots, key);
        }
        slots.for_each_mut(|mut slot| {
            assert_eq!(slot.state(), State::Running);
            slot.set_state(State::Stopping { by: By::Scope });
        });
        for &key in &keys {
            let expected = if key % 3 == 0 {
                continue;
            } else {
                State::Stopping { by: By::Scope }
            };
            assert_eq!(slots.state(key), expected);
        }
        assert_eq!(slots.len(), n / 3 * 2);
    }

    #[test]
    fn the_limit_is_kept() {
        // A limit of 20 cuts the head at 20 slots (5 groups).
        let mut slots: Slots<20> = Slots::new();
        let keys = fill(&mut slots, 20);
        assert_eq!(keys, (0..20).collect::<Vec<_>>());
        assert!(!slots.has_room());
        assert_eq!(slots.head.groups.len(), 5);
        remove(&mut slots, 13);
        assert!(slots.has_room());
        assert_eq!(slots.insert(1, State::Running), 13);
        assert!(!slots.has_room());
        // Past the head: a limit of 1,030 leaves 6 slots in page 1.
        let mut slots: Slots<1030> = Slots::new();
        let n = fill(&mut slots, 1030).len();
        assert!(!slots.has_room());
        assert_eq!((n, slots.more.len()), (1030, 1));
        assert_eq!(slots.more[0].groups.len(), 2);
    }

    #[test]
    #[should_panic(expected = "no room")]
    fn inserting_past_the_limit_panics() {
        let mut slots: Slots<12> = Slots::new();
        fill(&mut slots, 13);
    }

    /// A small deterministic generator (xorshift), for the property test.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// Random inserts, references and releases against a `HashMap` model:
    /// keys are unique among occupied slots, reused only when freed, the
    /// smallest free key never exceeds the number of slots ever held at
    /// once (no leak), and iteration sees exactly the model's slots.
    #[test]
    fn behaves_like_a_map() {
        let (seeds, steps): (u64, usize) = if cfg!(miri) { (1, 1_000) } else { (20, 20_000) };
        for seed in 1..=seeds {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut slots: Slots<3000> = Slots::new();
            // key → (refs, state code)
            let mut model: HashMap<usize, (u32, State)> = HashMap::new();
            // The model's keys, to pick one at random in O(1).
            let mut keys: Vec<usize> = Vec::new();
            let mut peak = 0;
            for step in 0..steps {
                let grow_phase = (step / (steps / 8)) % 2 == 0;
                match rng.below(if grow_phase { 8 } else { 5 }) {
                    0..=1 if !model.is_empty() => {
                        let key = keys[rng.below(keys.len())];
                        let entry = model.get_mut(&key).unwrap();
                        if entry.1.is_linked() {
                            entry.1 = check_states()[9 + rng.below(6)];
                            slots.get_mut(key).set_state(entry.1);
                        }
                        entry.0 -= 1;
                        let _ = slots.release(key);
                        if entry.0 == 0 {
                            model.remove(&key);
                            let at = keys.iter().position(|&k| k == key).unwrap();
                            keys.swap_remove(at);
                        }
                    }
                    2 if !model.is_empty() => {
                        let key = keys[rng.below(keys.len())];
                        model.get_mut(&key).unwrap().0 += 1;
                        slots.get_mut(key).retain();
                    }
                    3 if !model.is_empty() => {
                        let key = keys[rng.below(keys.len())];
                        let entry = model.get_mut(&key).unwrap();
                        if entry.1.is_cancellable() {
                            entry.1 = check_states()[1 + rng.below(8)];
                            slots.get_mut(key).set_state(entry.1);
                        }
                    }
                    _ => {
                        if !slots.has_room() {
                            assert_eq!(model.len(), 3000);
                            continue;
                        }
                        let refs = 1 + rng.below(3) as u32;
                        let key = slots.insert(refs, State::Running);
                        assert!(key < 3000);
                        assert!(
                            model.insert(key, (refs, State::Running)).is_none(),
                            "key {key} handed out twice"
                        );
                        keys.push(key);
                        peak = peak.max(model.len());
                        assert!(key < peak, "key {key} with at most {peak} slots at once");
                    }
                }
                if step % 97 == 0 {
                    assert_eq!(slots.len(), model.len());
                }
            }
            assert_eq!(slots.len(), model.len());
            for (&key, &(refs, state)) in &model {
                assert_eq!(slots.state(key), state);
                assert_eq!(slots.get_mut(key).refs(), refs);
            }
            let mut seen: Vec<(u32, State)> = Vec::new();
            slots.for_each_mut(|slot| seen.push((slot.refs(), slot.state())));
            let mut expected: Vec<(u32, State)> = model.values().copied().collect();
            let order =
                |a: &(u32, State), b: &(u32, State)| (a.0, encode(a.1)).cmp(&(b.0, encode(b.1)));
            seen.sort_by(order);
            expected.sort_by(order);
            assert_eq!(seen, expected);
        }
    }
}
