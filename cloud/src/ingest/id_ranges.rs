//! A set of reading ids kept as sorted, disjoint closed intervals `[first, last]`, two
//! intervals never touching (`[1, 4]` and `[5, 9]` are one, `[1, 9]`). It is how the cloud
//! remembers which ids of a streamer it holds (`store::held`): reports cover runs of ids, so
//! the set stays a handful of intervals where a set of ids would grow with every reading.

/// Sorted, disjoint, non-adjacent closed intervals of reading ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdRanges {
    ranges: Vec<(u64, u64)>,
}

impl IdRanges {
    pub const fn new() -> Self {
        IdRanges { ranges: Vec::new() }
    }

    /// The union of `ranges`, given in any order (an interval with `first > last` is empty).
    pub fn from_ranges(ranges: impl IntoIterator<Item = (u64, u64)>) -> Self {
        let mut set = IdRanges::new();
        for (first, last) in ranges {
            set.insert(first, last);
        }
        set
    }

    /// The set of `ids`, in any order, as runs of consecutive ids.
    pub fn from_ids(ids: impl IntoIterator<Item = u64>) -> Self {
        let mut ids: Vec<u64> = ids.into_iter().collect();
        ids.sort_unstable();
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for id in ids {
            match ranges.last_mut() {
                Some((_, last)) if id <= last.saturating_add(1) => *last = (*last).max(id),
                _ => ranges.push((id, id)),
            }
        }
        IdRanges { ranges }
    }

    /// The intervals, lowest first.
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn min(&self) -> Option<u64> {
        self.ranges.first().map(|r| r.0)
    }

    pub fn max(&self) -> Option<u64> {
        self.ranges.last().map(|r| r.1)
    }

    pub fn contains(&self, id: u64) -> bool {
        // The first interval that ends at or after `id` is the only one that may hold it.
        let i = self.ranges.partition_point(|r| r.1 < id);
        self.ranges.get(i).is_some_and(|r| r.0 <= id)
    }

    /// Whether every id of `[first, last]` is in the set.
    pub fn covers(&self, first: u64, last: u64) -> bool {
        if first > last {
            return true;
        }
        let i = self.ranges.partition_point(|r| r.1 < first);
        self.ranges
            .get(i)
            .is_some_and(|r| r.0 <= first && last <= r.1)
    }

    /// Adds `[first, last]`, merging it with every interval it overlaps or touches; returns
    /// whether the set changed.
    pub fn insert(&mut self, first: u64, last: u64) -> bool {
        if first > last {
            return false;
        }
        // Intervals from `lo` to `hi` (exclusive) overlap or touch the new one.
        let lo = self
            .ranges
            .partition_point(|r| r.1.saturating_add(1) < first);
        let hi = self
            .ranges
            .partition_point(|r| r.0 <= last.saturating_add(1));
        if lo == hi {
            self.ranges.insert(lo, (first, last));
            return true;
        }
        let merged = (
            first.min(self.ranges[lo].0),
            last.max(self.ranges[hi - 1].1),
        );
        if hi - lo == 1 && self.ranges[lo] == merged {
            return false;
        }
        self.ranges.splice(lo..hi, [merged]);
        true
    }

    /// Adds every interval of `other`; returns whether the set changed.
    pub fn extend(&mut self, other: &IdRanges) -> bool {
        let mut changed = false;
        for &(first, last) in &other.ranges {
            changed |= self.insert(first, last);
        }
        changed
    }

    /// How to go from `self` to `after` interval by interval.
    pub fn changes_to(&self, after: &IdRanges) -> Changes {
        let removed = self
            .ranges
            .iter()
            .filter(|r| after.ranges.binary_search(r).is_err())
            .copied()
            .collect();
        let added = after
            .ranges
            .iter()
            .filter(|r| self.ranges.binary_search(r).is_err())
            .copied()
            .collect();
        Changes { removed, added }
    }
}

/// The intervals only the old set has (to remove) and those only the new one has (to add).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub removed: Vec<(u64, u64)>,
    pub added: Vec<(u64, u64)>,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{Changes, IdRanges};

    fn set(ranges: &[(u64, u64)]) -> IdRanges {
        IdRanges::from_ranges(ranges.iter().copied())
    }

    #[test]
    fn disjoint_intervals_stay_apart_in_order() {
        let s = set(&[(20, 30), (1, 5), (10, 12)]);
        assert_eq!(s.ranges(), [(1, 5), (10, 12), (20, 30)]);
        assert_eq!((s.min(), s.max()), (Some(1), Some(30)));
    }

    #[test]
    fn adjacent_intervals_merge_on_either_side() {
        let mut s = set(&[(1, 10)]);
        assert!(s.insert(11, 20));
        assert_eq!(s.ranges(), [(1, 20)]);
        let mut s = set(&[(11, 20)]);
        assert!(s.insert(1, 10));
        assert_eq!(s.ranges(), [(1, 20)]);
        // One id bridging two intervals.
        let mut s = set(&[(1, 4), (6, 9)]);
        assert!(s.insert(5, 5));
        assert_eq!(s.ranges(), [(1, 9)]);
    }

    #[test]
    fn overlapping_intervals_merge_and_a_wide_one_swallows_several() {
        let mut s = set(&[(1, 10)]);
        assert!(s.insert(5, 15));
        assert_eq!(s.ranges(), [(1, 15)]);
        let mut s = set(&[(3, 4), (7, 8), (12, 20), (40, 50)]);
        assert!(s.insert(1, 25));
        assert_eq!(s.ranges(), [(1, 25), (40, 50)]);
    }

    #[test]
    fn a_contained_interval_changes_nothing() {
        let mut s = set(&[(1, 20), (30, 40)]);
        assert!(!s.insert(5, 10));
        assert!(!s.insert(1, 20));
        assert!(!s.insert(30, 30));
        assert_eq!(s.ranges(), [(1, 20), (30, 40)]);
        assert!(s.covers(2, 19) && s.covers(30, 40));
        assert!(!s.covers(15, 25) && !s.covers(20, 30) && !s.covers(0, 1));
    }

    #[test]
    fn membership_sees_the_edges_and_the_holes() {
        let s = set(&[(2, 4), (8, 8)]);
        let held: Vec<u64> = (0..=10).filter(|&id| s.contains(id)).collect();
        assert_eq!(held, [2, 3, 4, 8]);
        assert!(!IdRanges::new().contains(0));
    }

    #[test]
    fn ids_make_runs() {
        let s = IdRanges::from_ids([9, 1, 2, 3, 7, 2, 8]);
        assert_eq!(s.ranges(), [(1, 3), (7, 9)]);
        assert!(IdRanges::from_ids([]).is_empty());
    }

    #[test]
    fn extremes_do_not_overflow() {
        let mut s = set(&[(u64::MAX - 1, u64::MAX)]);
        assert!(s.insert(0, 0));
        assert!(s.insert(u64::MAX - 3, u64::MAX - 2));
        assert_eq!(s.ranges(), [(0, 0), (u64::MAX - 3, u64::MAX)]);
        assert!(!s.insert(5, 4), "an empty interval adds nothing");
    }

    #[test]
    fn changes_name_the_replaced_and_the_new_intervals() {
        let before = set(&[(1, 10), (20, 30), (50, 60)]);
        let mut after = before.clone();
        after.insert(11, 19);
        after.insert(70, 80);
        let changes = before.changes_to(&after);
        assert_eq!(changes.removed, [(1, 10), (20, 30)]);
        assert_eq!(changes.added, [(1, 30), (70, 80)]);
        assert_eq!(before.changes_to(&before), Changes::default());
    }

    proptest! {
        /// The set holds exactly the ids of the intervals put in, in canonical form.
        #[test]
        fn matches_a_set_of_ids(intervals in prop::collection::vec((0u64..60, 0u64..8), 0..12)) {
            let mut s = IdRanges::new();
            let mut ids = std::collections::BTreeSet::new();
            for (first, len) in intervals {
                let before = s.clone();
                let changed = s.insert(first, first + len);
                let grew = (first..=first + len).fold(false, |grew, id| ids.insert(id) | grew);
                prop_assert_eq!(changed, grew);
                prop_assert_eq!(before.changes_to(&s) == Changes::default(), !changed);
            }
            for id in 0..80 {
                prop_assert_eq!(s.contains(id), ids.contains(&id));
            }
            prop_assert_eq!(&s, &IdRanges::from_ids(ids.iter().copied()));
            for pair in s.ranges().windows(2) {
                prop_assert!(pair[0].1 + 1 < pair[1].0, "intervals apart: {:?}", s);
            }
        }
    }
}
