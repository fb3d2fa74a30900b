use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};
use sync_protocol::ids::DeviceId;

use super::*;

const BIG: Budget = Budget { max_bytes: 1 << 30 };

fn report(n: u32, len: usize) -> NewReport {
    // Distinct bytes for distinct n, so each report is its own row.
    let mut raw = vec![(n % 251) as u8; len];
    raw[..4].copy_from_slice(&n.to_le_bytes());
    NewReport {
        device: DeviceId::new(0xd2).expect("in range"),
        streamer: 0,
        report_id: n,
        first_reading_id: n * 200 + 1,
        last_reading_id: n * 200 + 200,
        reading_count: 200,
        kind: ReportKind::SignedList,
        raw,
        received_at_us: 1_700_000_000_000_000 + i64::from(n),
    }
}

fn open_at(path: &Path, budget: Budget) -> (Buffer, OpenReport) {
    Buffer::open(path, budget).expect("opens")
}

#[test]
fn store_duplicate_pending_mark_prune() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("buffer.sqlite");
    let (mut buf, opened) = open_at(&path, BIG);
    assert!(opened.created);
    assert_eq!((opened.schema_from, opened.schema_to), (0, 3));
    assert_eq!(opened.recovery, None);
    let mode = std::fs::metadata(&path)
        .expect("exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let first = buf.store(&report(1, 100)).expect("stores");
    let second = buf.store(&report(2, 100)).expect("stores");
    assert!(matches!(first, Stored::New(_)));
    assert_eq!(
        buf.store(&report(1, 100)).expect("stores"),
        Stored::Duplicate(first.id())
    );
    buf.store(&report(3, 100)).expect("stores");

    let pending = buf.pending(10, 1 << 20).expect("pending");
    assert_eq!(
        pending
            .iter()
            .map(|p| p.report.report_id)
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(pending[0].report, report(1, 100));
    let stats = buf.stats().expect("stats");
    assert_eq!(
        (
            stats.pending_reports,
            stats.pending_bytes,
            stats.pending_readings
        ),
        (3, 300, 600)
    );
    assert_eq!(stats.oldest_pending, Some(report(1, 100).received_at_us));

    assert_eq!(
        buf.mark_synced(&[first.id(), second.id()], 5_000)
            .expect("marks"),
        2
    );
    assert_eq!(
        buf.mark_synced(&[first.id()], 6_000).expect("marks"),
        0,
        "repeat is harmless"
    );
    let left = buf.pending(10, 1 << 20).expect("pending");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].report.report_id, 3);

    assert_eq!(
        buf.prune_synced(5_000).expect("prunes"),
        0,
        "synced at 5000 is not older"
    );
    assert_eq!(buf.prune_synced(5_001).expect("prunes"), 2);
    let stats = buf.stats().expect("stats");
    assert_eq!((stats.pending_reports, stats.synced_reports), (1, 0));
    // A pruned report stored again is new: the cloud deduplicates it by reading id.
    assert!(
        matches!(buf.store(&report(1, 100)).expect("stores"), Stored::New(id) if id > first.id())
    );
}

#[test]
fn pending_is_bounded_by_count_and_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut buf, _) = open_at(&dir.path().join("b.sqlite"), BIG);
    for n in 0..10 {
        buf.store(&report(n, 1000)).expect("stores");
    }
    assert_eq!(buf.pending(4, 1 << 20).expect("pending").len(), 4);
    assert_eq!(buf.pending(100, 3500).expect("pending").len(), 3);
    // One report larger than the byte bound still goes alone.
    assert_eq!(buf.pending(100, 10).expect("pending").len(), 1);
    assert_eq!(buf.pending(0, 1 << 20).expect("pending").len(), 0);
    // A pass walks on from the last report it saw.
    let first = buf.pending(4, 1 << 20).expect("pending");
    let after = first.last().expect("four").id;
    let next = buf.pending_after(after, 100, 1 << 20).expect("pending");
    assert_eq!(next.len(), 6);
    assert!(next.iter().all(|p| p.id > after));
    let last = next.last().expect("six").id;
    assert!(buf
        .pending_after(last, 100, 1 << 20)
        .expect("none")
        .is_empty());
}

#[test]
fn budget_refuses_without_deleting_and_resumes_after_prune() {
    let dir = tempfile::tempdir().expect("tempdir");
    let budget = Budget {
        max_bytes: 400 * 1024,
    };
    let (mut buf, _) = open_at(&dir.path().join("b.sqlite"), budget);
    let mut stored = Vec::new();
    let refused = loop {
        let n = stored.len() as u32;
        match buf.store(&report(n, 3300)) {
            Ok(s) => stored.push(s.id()),
            Err(e) => break e,
        }
        assert!(stored.len() < 1000, "the budget never refused");
    };
    assert!(
        matches!(refused, BufferError::OverBudget { used, budget: b } if b == budget.max_bytes && used <= b)
    );
    assert!(stored.len() > 50);
    let stats = buf.stats().expect("stats");
    assert_eq!(
        stats.pending_reports,
        stored.len() as u64,
        "nothing unsent was deleted"
    );
    // Refusal repeats while nothing is synced; a prune of unsynced rows deletes nothing.
    assert!(buf.store(&report(5000, 3300)).is_err());
    assert_eq!(buf.prune_synced(i64::MAX).expect("prunes"), 0);
    assert!(buf.quarantine(&[0; 3300], "bad", 1).is_err());
    // Duplicates of stored bytes are still answered while over budget.
    assert_eq!(
        buf.store(&report(0, 3300)).expect("dup"),
        Stored::Duplicate(stored[0])
    );

    assert_eq!(
        buf.mark_synced(&stored[..stored.len() / 2], 10)
            .expect("marks"),
        stored.len() / 2
    );
    assert_eq!(buf.prune_synced(11).expect("prunes"), stored.len() / 2);
    assert!(matches!(buf.store(&report(5000, 3300)), Ok(Stored::New(_))));
    assert!(!buf.stats().expect("stats").over_budget);
}

#[test]
fn acks_and_cloud_progress_only_move_forward() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut buf, _) = open_at(&dir.path().join("b.sqlite"), BIG);
    let d = DeviceId::new(7).expect("in range");
    assert_eq!(buf.acked(d, 1).expect("reads"), None);
    buf.record_ack(d, 1, 500).expect("records");
    buf.record_ack(d, 1, 400).expect("records");
    assert_eq!(buf.acked(d, 1).expect("reads"), Some(500));
    assert_eq!(buf.cloud_has(d, 1).expect("reads"), None);
    buf.record_cloud_has(d, 1, 300).expect("records");
    buf.record_cloud_has(d, 1, 450).expect("records");
    assert_eq!(buf.cloud_has(d, 1).expect("reads"), Some(450));
    assert_eq!(buf.acked(d, 2).expect("reads"), None);
}

#[test]
fn quarantine_is_counted_and_never_pending() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut buf, _) = open_at(&dir.path().join("b.sqlite"), BIG);
    buf.quarantine(b"\x01garbage", "signature failed", 42)
        .expect("keeps");
    let stats = buf.stats().expect("stats");
    assert_eq!((stats.quarantined, stats.pending_reports), (1, 0));
    assert!(buf.pending(10, 1 << 20).expect("pending").is_empty());
}

const CHILD_ENV: &str = "IOTILE_GW_DURABILITY_DB";

/// Run by `durability_across_sigkill` in a child process: stores reports forever and prints
/// each one's number once `store` has returned.
#[test]
#[ignore = "helper process for durability_across_sigkill"]
fn durability_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let (mut buf, _) = open_at(Path::new(&path), BIG);
    let mut out = std::io::stdout().lock();
    for n in 0.. {
        buf.store(&report(n, 3300)).expect("stores");
        writeln!(out, "stored {n}").expect("writes");
        out.flush().expect("flushes");
    }
}

#[test]
fn durability_across_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("b.sqlite");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--ignored",
            "--exact",
            "buffer::tests::durability_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut confirmed = Vec::new();
    while confirmed.len() < 40 {
        let line = lines.next().expect("child alive").expect("reads");
        if let Some(n) = line.strip_prefix("stored ") {
            confirmed.push(n.parse::<u32>().expect("number"));
        }
    }
    child.kill().expect("SIGKILL");
    // Lines already written before the kill also count: their store had returned.
    for line in lines.map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("stored ").and_then(|n| n.parse().ok()) {
            confirmed.push(n);
        }
    }
    child.wait().expect("reaped");

    let (buf, opened) = open_at(&path, BIG);
    assert_eq!(opened.recovery, None);
    let pending = buf.pending(100_000, usize::MAX).expect("pending");
    let have: std::collections::HashSet<u32> = pending.iter().map(|p| p.report.report_id).collect();
    for n in &confirmed {
        assert!(have.contains(n), "report {n} was confirmed but is gone");
    }
    for p in &pending {
        assert_eq!(p.report, report(p.report.report_id, 3300), "bytes intact");
    }
}

#[test]
fn corrupt_file_is_moved_aside_and_salvaged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("b.sqlite");
    let total = 400u32;
    {
        let (mut buf, _) = open_at(&path, BIG);
        for n in 0..total {
            buf.store(&report(n, 3300)).expect("stores");
        }
        buf.record_ack(DeviceId::new(0xd2).expect("in range"), 0, 80_000)
            .expect("acks");
        // Closing checkpoints the WAL into the file.
    }
    assert!(!sibling_exists(&path, "-wal"));
    let len = std::fs::metadata(&path).expect("exists").len();
    let mut bytes = std::fs::read(&path).expect("reads");
    let middle = (len / 2) as usize;
    bytes[middle..middle + 8192].fill(0xEE);
    std::fs::write(&path, &bytes).expect("writes");

    let (buf, opened) = open_at(&path, BIG);
    let rec = opened.recovery.expect("recovered");
    assert!(rec.reason.contains("quick_check"), "{}", rec.reason);
    assert!(rec.moved_to.exists());
    assert!(rec.moved_to.to_string_lossy().contains("b.sqlite.corrupt-"));
    assert_eq!(
        std::fs::read(&rec.moved_to).expect("kept"),
        bytes,
        "damaged file kept as is"
    );
    let lost = rec.rows_lost.expect("counted");
    assert!(lost >= 1, "{rec:?}");
    assert!(rec.rows_salvaged >= u64::from(total) / 2, "{rec:?}");
    let pending = buf.pending(100_000, usize::MAX).expect("pending");
    assert!(
        pending.len() as u64 + lost + rec.reports_quarantined >= u64::from(total),
        "{rec:?}"
    );
    for p in &pending {
        assert_eq!(
            p.report,
            report(p.report.report_id, 3300),
            "salvaged bytes intact"
        );
        assert_eq!(Sha256::digest(&p.report.raw).len(), 32);
    }
    // The fresh file is sound and keeps collecting.
    drop(buf);
    let (mut buf, again) = open_at(&path, BIG);
    assert_eq!(again.recovery, None);
    assert!(matches!(
        buf.store(&report(total + 1, 3300)),
        Ok(Stored::New(_))
    ));
}

#[test]
fn damaged_table_and_index_are_probed_row_by_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("b.sqlite");
    let total = 400u32;
    {
        let (mut buf, _) = open_at(&path, BIG);
        for n in 0..total {
            buf.store(&report(n, 3300)).expect("stores");
        }
    }
    // With the sha256 index's root page gone the file cannot count its rows, and with a
    // table page gone it cannot be scanned end to end either.
    let index_root: i64 = rusqlite::Connection::open(&path)
        .expect("opens")
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_reports_1'",
            [],
            |r| r.get(0),
        )
        .expect("index root");
    let mut bytes = std::fs::read(&path).expect("reads");
    let page = 4096usize;
    let pages = bytes.len() / page;
    for number in [index_root as usize, pages / 2] {
        bytes[(number - 1) * page..number * page].fill(0xEE);
    }
    std::fs::write(&path, &bytes).expect("writes");

    let (buf, opened) = open_at(&path, BIG);
    let rec = opened.recovery.expect("recovered");
    let lost = rec.rows_lost.expect("probed");
    assert!((1..=5).contains(&lost), "{rec:?}");
    let pending = buf.pending(100_000, usize::MAX).expect("pending");
    assert_eq!(pending.len() as u64 + lost, u64::from(total), "{rec:?}");
    for p in &pending {
        assert_eq!(
            p.report,
            report(p.report.report_id, 3300),
            "salvaged bytes intact"
        );
    }
}

fn sibling_exists(path: &Path, suffix: &str) -> bool {
    open::sibling(path, suffix).exists()
}

#[test]
fn a_file_that_is_not_sqlite_is_moved_aside() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("b.sqlite");
    let junk = b"this is a text file, not a database\n".repeat(200);
    std::fs::write(&path, &junk).expect("writes");
    let (mut buf, opened) = open_at(&path, BIG);
    let rec = opened.recovery.expect("recovered");
    assert_eq!(rec.rows_salvaged, 0);
    assert_eq!(rec.rows_lost, None, "nothing could be counted");
    assert_eq!(std::fs::read(&rec.moved_to).expect("kept"), junk);
    assert!(matches!(buf.store(&report(1, 10)), Ok(Stored::New(_))));
    drop(buf);

    // A second corruption right after keeps both damaged files.
    std::fs::write(&path, b"not sqlite either").expect("writes");
    let (_, again) = open_at(&path, BIG);
    let second = again.recovery.expect("recovered").moved_to;
    assert_ne!(second, rec.moved_to);
    assert_eq!(std::fs::read(&rec.moved_to).expect("kept"), junk);
    assert_eq!(std::fs::read(&second).expect("kept"), b"not sqlite either");
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("b.sqlite");
    drop(open_at(&path, BIG));
    let conn = rusqlite::Connection::open(&path).expect("opens");
    conn.pragma_update(None, "user_version", 99).expect("sets");
    drop(conn);
    assert!(matches!(
        Buffer::open(&path, BIG),
        Err(BufferError::SchemaMismatch {
            found: 99,
            known: 3
        })
    ));
}

#[test]
fn read_only_open_sees_stats_and_cannot_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("b.sqlite");
    assert!(matches!(
        Buffer::open_read_only(&path, BIG),
        Err(BufferError::Io { .. })
    ));
    assert!(!path.exists(), "not created");
    let (mut writer, _) = open_at(&path, BIG);
    writer.store(&report(1, 100)).expect("stores");
    let mut reader = Buffer::open_read_only(&path, BIG).expect("opens");
    assert_eq!(reader.stats().expect("stats").pending_reports, 1);
    assert!(reader.store(&report(2, 100)).is_err());
    drop((reader, writer));
    std::fs::write(&path, b"garbage").expect("writes");
    assert!(matches!(
        Buffer::open_read_only(&path, BIG),
        Err(BufferError::Corrupt(_))
    ));
}

#[test]
fn the_backlog_counts_what_the_cloud_lacks_after_a_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut buf, _) = open_at(&dir.path().join("b.sqlite"), BIG);
    let clear = buf.backlog(0).expect("counts");
    assert_eq!(clear, sync_protocol::gateway::Backlog::default());
    for n in 1..=5 {
        buf.store(&report(n, 100 + n as usize)).expect("stores");
    }
    let all = buf.backlog(0).expect("counts");
    assert_eq!((all.reports, all.raw_bytes, all.readings), (5, 515, 1000));
    assert_eq!(
        all.oldest_received_at_us,
        Some(report(1, 100).received_at_us)
    );
    let stats = buf.stats().expect("stats");
    assert_eq!(
        (
            stats.pending_reports,
            stats.pending_bytes,
            stats.pending_readings
        ),
        (all.reports, all.raw_bytes, all.readings)
    );
    assert_eq!(stats.oldest_pending, all.oldest_received_at_us);

    // A batch of the two oldest: the backlog after it is the other three.
    let batch = buf.pending(2, 1 << 20).expect("pending");
    let last = batch.last().expect("two").id;
    let after = buf.backlog(last).expect("counts");
    assert_eq!(
        (after.reports, after.raw_bytes, after.readings),
        (3, 312, 600)
    );
    assert_eq!(
        after.oldest_received_at_us,
        Some(report(3, 100).received_at_us)
    );
    assert_eq!(after.check(), Ok(()));
    // Once the cloud confirms it, the buffer agrees with what the batch told.
    let ids: Vec<i64> = batch.iter().map(|p| p.id).collect();
    buf.mark_synced(&ids, 1).expect("marks");
    assert_eq!(buf.backlog(0).expect("counts"), after);

    // Reports kept aside and update outcomes owed count too.
    buf.quarantine(b"junk", "does not decode", 2).expect("kept");
    let device = DeviceId::new(0x42).expect("in range");
    let mut job = buf.start_ota_job(device, 7, "z--0001", 3).expect("starts");
    buf.finish_ota_job(&mut job, true, "done", 4).expect("ends");
    let owed = buf.backlog(0).expect("counts");
    assert_eq!((owed.quarantined, owed.ota_outcomes), (1, 1));
    assert!(!owed.buffer_full);
    drop(buf);

    // The same file under a budget it already exceeds: full, collection stops.
    let (full, _) = open_at(&dir.path().join("b.sqlite"), Budget { max_bytes: 1 });
    let owed = full.backlog(0).expect("counts");
    assert!(owed.buffer_full);
    assert_eq!(owed.reports, 3);
    assert_eq!(owed.buffer_full, full.stats().expect("stats").over_budget);
}
