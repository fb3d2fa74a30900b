//! Chart data for one stream: which stored summaries answer a time range at a bucket count,
//! and how they fold into the chart's buckets. Pure: no SQL, no I/O.
//!
//! The data database keeps per-stream rollups of the readings' values in fixed buckets of
//! [`TIERS`] seconds, aligned to the Unix epoch (`stream_rollups`, kept by the store). A
//! chart over `[start, end)` at `n` buckets uses the coarsest tier not wider than
//! `(end - start) / (n - 1)`, or the raw rows when even the finest tier is wider. Its bucket
//! width is rounded up to a whole number of tier buckets and its buckets are aligned to
//! the epoch, so every tier bucket lies in one chart bucket and the chart is exact: each
//! bucket summarizes exactly the readings of `[bucket start, bucket end) ∩ [start, end)`.
//! The range's ragged ends are read from finer tiers and, below a minute, raw rows
//! ([`Plan::pieces`]). A chart has between about `n / 2` and `n` buckets; empty buckets are
//! left out.
//!
//! With tiers 15, 16 and 6 times apart, a chart reads at most some 16 stored rows per bucket
//! in its middle and a few dozen at each end (plus under a minute of raw rows there).

use std::ops::RangeInclusive;

/// Rollup bucket widths in seconds, finest first; each divides the next.
pub const TIERS: [i64; 4] = [60, 900, 14_400, 86_400];

/// The bucket counts a chart may ask for.
pub const BUCKETS: RangeInclusive<u32> = 10..=4000;

const SECOND: i64 = 1_000_000;

/// The times a chart may span, in microseconds either side of the epoch (some 9,000 years),
/// so that no width or bucket computation can overflow.
const TIME_LIMIT: i64 = 1 << 58;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChartError {
    #[error("end must be after start")]
    EmptyRange,
    #[error("buckets must be from {} to {}", BUCKETS.start(), BUCKETS.end())]
    Buckets,
    #[error("start is out of range")]
    StartOutOfRange,
    #[error("end is out of range")]
    EndOutOfRange,
}

/// Where summaries come from: raw rows, or the rollup tier of that many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Raw,
    Tier(i64),
}

/// One read: the summaries of `source` in `[from, to)` (microseconds). A tier piece's
/// bounds are multiples of its width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub source: Source,
    pub from: i64,
    pub to: i64,
}

/// How a chart is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub start: i64,
    pub end: i64,
    /// Chart bucket width, microseconds: a whole number of seconds and of `source` buckets.
    pub width: i64,
    /// The source of the range's middle.
    pub source: Source,
    /// Disjoint, in time order, together covering `[start, end)`.
    pub pieces: Vec<Piece>,
}

/// The chart of `[start, end)` (microseconds) at no more than `buckets` buckets.
pub fn plan(start: i64, end: i64, buckets: u32) -> Result<Plan, ChartError> {
    if !BUCKETS.contains(&buckets) {
        return Err(ChartError::Buckets);
    }
    let times = -TIME_LIMIT..=TIME_LIMIT;
    if !times.contains(&start) {
        return Err(ChartError::StartOutOfRange);
    }
    if !times.contains(&end) {
        return Err(ChartError::EndOutOfRange);
    }
    if end <= start {
        return Err(ChartError::EmptyRange);
    }
    let n = i64::from(buckets);
    // A range of length L meets at most ceil(L / w) + 1 buckets of width w.
    let least = ceil_div(end - start, n - 1);
    let tiers = TIERS.iter().take_while(|t| **t * SECOND <= least).count();
    let (source, unit) = match tiers.checked_sub(1) {
        Some(i) => (Source::Tier(TIERS[i]), TIERS[i] * SECOND),
        None => (Source::Raw, SECOND),
    };
    let mut width = ceil_div(least, unit) * unit;
    while cells(start, end, width) > n {
        width += unit;
    }
    let mut pieces = Vec::new();
    cover(start, end, &TIERS[..tiers], &mut pieces);
    Ok(Plan {
        start,
        end,
        width,
        source,
        pieces,
    })
}

/// Splits `[from, to)` into the widest aligned tier spans, finer tiers and raw rows at the
/// ends.
fn cover(from: i64, to: i64, tiers: &[i64], out: &mut Vec<Piece>) {
    if from >= to {
        return;
    }
    let Some((&tier, finer)) = tiers.split_last() else {
        out.push(Piece {
            source: Source::Raw,
            from,
            to,
        });
        return;
    };
    let w = tier * SECOND;
    let (a, b) = (ceil_div(from, w) * w, to.div_euclid(w) * w);
    if a >= b {
        return cover(from, to, finer, out);
    }
    cover(from, a, finer, out);
    out.push(Piece {
        source: Source::Tier(tier),
        from: a,
        to: b,
    });
    cover(b, to, finer, out);
}

fn ceil_div(a: i64, b: i64) -> i64 {
    -((-a).div_euclid(b))
}

/// How many buckets of `width` (aligned to the epoch) `[start, end)` meets.
fn cells(start: i64, end: i64, width: i64) -> i64 {
    (end - 1).div_euclid(width) - start.div_euclid(width) + 1
}

/// The start of the `width` bucket that holds `t`.
pub fn bucket_of(t: i64, width: i64) -> i64 {
    t.div_euclid(width) * width
}

/// A summary of some readings' values: a rollup row, one raw reading, or a chart bucket.
/// `at` is where it lies: a bucket's start or a reading's time (microseconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub at: i64,
    pub count: i64,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    /// The earliest reading (time, value); of readings at the same time, the first stored.
    pub first: (i64, f64),
    /// The latest reading; of readings at the same time, the last stored.
    pub last: (i64, f64),
}

impl Summary {
    pub fn reading(t: i64, value: f64) -> Summary {
        Summary {
            at: t,
            count: 1,
            min: value,
            max: value,
            sum: value,
            first: (t, value),
            last: (t, value),
        }
    }

    /// Adds readings stored after this summary's (the order that breaks ties of time).
    pub fn merge(&mut self, later: &Summary) {
        self.count += later.count;
        self.min = self.min.min(later.min);
        self.max = self.max.max(later.max);
        self.sum += later.sum;
        if later.first.0 < self.first.0 {
            self.first = later.first;
        }
        if later.last.0 >= self.last.0 {
            self.last = later.last;
        }
    }

    pub fn mean(&self) -> f64 {
        self.sum / self.count as f64
    }
}

/// A chart being filled: summaries go into the bucket their `at` falls in.
#[derive(Debug, Clone)]
pub struct Chart {
    plan: Plan,
    first_cell: i64,
    cells: Vec<Option<Summary>>,
}

impl Chart {
    pub fn new(plan: Plan) -> Chart {
        let first_cell = plan.start.div_euclid(plan.width);
        let n = cells(plan.start, plan.end, plan.width);
        Chart {
            first_cell,
            cells: vec![None; usize::try_from(n).unwrap_or(0)],
            plan,
        }
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Adds a summary; summaries of one bucket must come in the order they were stored.
    /// One outside the chart's range is ignored.
    pub fn add(&mut self, s: &Summary) {
        if s.at < self.plan.start || s.at >= self.plan.end {
            return;
        }
        let index = s.at.div_euclid(self.plan.width) - self.first_cell;
        let Some(cell) = usize::try_from(index)
            .ok()
            .and_then(|i| self.cells.get_mut(i))
        else {
            return;
        };
        match cell {
            Some(bucket) => bucket.merge(s),
            None => {
                *cell = Some(Summary {
                    at: self.plan.width * (index + self.first_cell),
                    ..*s
                })
            }
        }
    }

    /// The non-empty buckets in time order; `at` is each bucket's start.
    pub fn buckets(self) -> Vec<Summary> {
        self.cells.into_iter().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400 * SECOND;
    /// 2024-01-01T00:00:00Z.
    const T0: i64 = 1_704_067_200 * SECOND;

    fn check(plan: &Plan, buckets: u32) {
        assert!(cells(plan.start, plan.end, plan.width) <= i64::from(buckets));
        assert_eq!(plan.width % SECOND, 0);
        let mut at = plan.start;
        for p in &plan.pieces {
            assert_eq!(p.from, at, "{plan:?}");
            assert!(p.to > p.from);
            if let Source::Tier(t) = p.source {
                assert_eq!(p.from % (t * SECOND), 0);
                assert_eq!(p.to % (t * SECOND), 0);
                assert_eq!(
                    plan.width % (t * SECOND),
                    0,
                    "tier buckets split chart buckets"
                );
            }
            at = p.to;
        }
        assert_eq!(at, plan.end);
    }

    #[test]
    fn a_year_reads_the_four_hour_tier() {
        let plan = plan(T0, T0 + 366 * DAY, 1000).unwrap();
        check(&plan, 1000);
        assert_eq!(plan.source, Source::Tier(14_400));
        assert_eq!(plan.width, 43_200 * SECOND);
        assert_eq!(plan.pieces.len(), 1);
    }

    #[test]
    fn a_day_reads_minutes_and_an_hour_reads_raw_rows() {
        let day = plan(T0, T0 + DAY, 1000).unwrap();
        check(&day, 1000);
        assert_eq!(day.source, Source::Tier(60));
        let hour = plan(T0, T0 + 3600 * SECOND, 1000).unwrap();
        check(&hour, 1000);
        assert_eq!(hour.source, Source::Raw);
        assert_eq!(hour.width, 4 * SECOND);
        assert_eq!(hour.pieces.len(), 1);
    }

    #[test]
    fn ragged_ends_use_finer_tiers_then_raw_rows() {
        let start = T0 + 7 * DAY + 3 * 3600 * SECOND + 61 * SECOND + 5;
        let end = start + 300 * DAY + 1234 * SECOND + 17;
        let plan = plan(start, end, 500).unwrap();
        check(&plan, 500);
        assert_eq!(plan.source, Source::Tier(14_400));
        let sources: Vec<Source> = plan.pieces.iter().map(|p| p.source).collect();
        assert_eq!(
            sources,
            [
                Source::Raw,
                Source::Tier(60),
                Source::Tier(900),
                Source::Tier(14_400),
                Source::Tier(900),
                Source::Tier(60),
                Source::Raw
            ]
        );
        assert!(plan.pieces[0].to - plan.pieces[0].from < 60 * SECOND);
    }

    #[test]
    fn bucket_counts_and_ranges_are_checked() {
        assert_eq!(plan(T0, T0 + DAY, 9), Err(ChartError::Buckets));
        assert_eq!(plan(T0, T0 + DAY, 4001), Err(ChartError::Buckets));
        assert_eq!(plan(T0, T0, 100), Err(ChartError::EmptyRange));
        assert_eq!(plan(T0, T0 - 1, 100), Err(ChartError::EmptyRange));
        assert_eq!(plan(i64::MIN, T0, 100), Err(ChartError::StartOutOfRange));
        assert_eq!(plan(T0, i64::MAX, 100), Err(ChartError::EndOutOfRange));
        let widest = plan(-TIME_LIMIT, TIME_LIMIT, 10).unwrap();
        check(&widest, 10);
        let tiny = plan(T0, T0 + 1, 4000).unwrap();
        check(&tiny, 4000);
        assert_eq!(tiny.width, SECOND);
    }

    #[test]
    fn any_range_stays_within_its_bucket_count() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..5000 {
            let start = T0 + (next() % (400 * DAY as u64)) as i64 - 200 * DAY;
            let len = 1 + (next() % (1 + next() % (800 * DAY as u64))) as i64;
            let n = 10 + (next() % 3991) as u32;
            let p = plan(start, start + len, n).unwrap();
            check(&p, n);
        }
    }

    #[test]
    fn summaries_fold_into_buckets_exactly() {
        let plan = plan(T0 + 30 * SECOND, T0 + DAY, 100).unwrap();
        let mut chart = Chart::new(plan.clone());
        let readings: Vec<(i64, f64)> = (0..8640)
            .map(|i| (T0 + i * 10 * SECOND, ((i * 7919) % 1000) as f64))
            .filter(|(t, _)| *t >= plan.start)
            .collect();
        for (t, v) in &readings {
            chart.add(&Summary::reading(*t, *v));
        }
        let buckets = chart.buckets();
        assert!(buckets.len() <= 100);
        assert_eq!(
            buckets.iter().map(|b| b.count).sum::<i64>(),
            readings.len() as i64
        );
        for b in &buckets {
            let mine: Vec<&(i64, f64)> = readings
                .iter()
                .filter(|(t, _)| bucket_of(*t, plan.width) == b.at)
                .collect();
            assert_eq!(b.count, mine.len() as i64);
            assert_eq!(b.first, *mine[0]);
            assert_eq!(b.last, **mine.last().unwrap());
            let max = mine.iter().map(|r| r.1).fold(f64::MIN, f64::max);
            assert_eq!(b.max, max);
        }
    }

    #[test]
    fn ties_of_time_keep_storage_order() {
        let mut s = Summary::reading(5, 1.0);
        s.merge(&Summary::reading(5, 2.0));
        s.merge(&Summary::reading(3, 0.5));
        assert_eq!((s.first, s.last, s.count), ((3, 0.5), (5, 2.0), 3));
        assert_eq!(s.mean(), 3.5 / 3.0);
    }
}
