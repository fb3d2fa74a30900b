//! The job queue's guarantees on both backends: order and exclusivity per key, leases that
//! pass to another worker when they run out, fencing of a worker that lost its lease,
//! backoff and the dead state, and distinct jobs for concurrent takers.

#![allow(clippy::unwrap_used)]

mod common;

use cloud::store::jobs::{self, AfterFailure};

const SECOND: i64 = 1_000_000;

backends!(
    jobs_run_in_order_per_key_with_leases,
    spawn_idle,
    |app: common::TestApp| async move {
        let db = &app.state.db;
        let pool = &db.meta;
        let a1 = jobs::enqueue(pool, "k", "streamer-a", "{}", 0)
            .await
            .unwrap();
        let a2 = jobs::enqueue(pool, "k", "streamer-a", "{}", 0)
            .await
            .unwrap();
        let b1 = jobs::enqueue(pool, "k", "streamer-b", "{}", 0)
            .await
            .unwrap();

        let first = jobs::claim(pool, db.backend, "w1", 10, 5 * SECOND)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.id, a1);
        // a2 waits for a1 (same key); b1 is free.
        let second = jobs::claim(pool, db.backend, "w2", 10, 5 * SECOND)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second.id, b1);
        assert!(jobs::claim(pool, db.backend, "w3", 10, 5 * SECOND)
            .await
            .unwrap()
            .is_none());
        assert!(jobs::complete(pool, b1, "w2", 20).await.unwrap());

        // w1 stops heart-beating; after its lease another worker takes a1 again.
        let later = 10 + 6 * SECOND;
        let again = jobs::claim(pool, db.backend, "w3", later, 5 * SECOND)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((again.id, again.attempts), (a1, 2));
        // The old holder is fenced off.
        assert!(!jobs::heartbeat(pool, a1, "w1", later + SECOND)
            .await
            .unwrap());
        assert!(!jobs::complete(pool, a1, "w1", later).await.unwrap());
        assert!(jobs::heartbeat(pool, a1, "w3", later + 10 * SECOND)
            .await
            .unwrap());
        assert!(jobs::complete(pool, a1, "w3", later).await.unwrap());
        // Now a2 is eligible.
        let next = jobs::claim(pool, db.backend, "w3", later, 5 * SECOND)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(next.id, a2);

        // A failure waits out its backoff, then runs again; the last allowed failure is dead.
        let AfterFailure::Retry { run_after } =
            jobs::fail(pool, &next, "w3", "boom", later).await.unwrap()
        else {
            panic!("first failure must retry")
        };
        assert!(run_after >= later + 2 * SECOND);
        let early = jobs::claim(pool, db.backend, "w3", run_after - 1, 5 * SECOND)
            .await
            .unwrap();
        assert!(early.is_none(), "{early:?} {run_after}");
        let mut job = jobs::claim(pool, db.backend, "w3", run_after, 5 * SECOND)
            .await
            .unwrap()
            .unwrap();
        let mut now = run_after;
        loop {
            match jobs::fail(pool, &job, "w3", "still broken", now)
                .await
                .unwrap()
            {
                AfterFailure::Retry { run_after } => {
                    now = run_after;
                    job = jobs::claim(pool, db.backend, "w3", now, 5 * SECOND)
                        .await
                        .unwrap()
                        .unwrap();
                }
                AfterFailure::Dead => break,
                AfterFailure::LostLease => panic!("the lease was ours"),
            }
        }
        let dead = jobs::by_id(pool, a2).await.unwrap().unwrap();
        assert_eq!(
            (
                dead.state.as_str(),
                dead.attempts,
                dead.last_error.as_deref()
            ),
            ("dead", dead.max_attempts, Some("still broken"))
        );
        assert!(jobs::retry(pool, a2, now).await.unwrap());
        assert_eq!(
            jobs::claim(pool, db.backend, "w4", now, SECOND)
                .await
                .unwrap()
                .unwrap()
                .id,
            a2
        );
    }
);

backends!(
    concurrent_takers_get_distinct_jobs,
    spawn_idle,
    |app: common::TestApp| async move {
        let db = app.state.db.clone();
        for i in 0..40 {
            jobs::enqueue(&db.meta, "k", &format!("key-{i}"), "{}", 0)
                .await
                .unwrap();
        }
        let mut tasks = Vec::new();
        for w in 0..8 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                let mut taken = Vec::new();
                let name = format!("w{w}");
                // Like a real worker, an empty answer is not the end: with SKIP LOCKED a taker
                // sees nothing while the rest are being taken by others.
                loop {
                    match jobs::claim(&db.meta, db.backend, &name, 1, 60 * SECOND)
                        .await
                        .unwrap()
                    {
                        Some(job) => taken.push(job.id),
                        None => {
                            let queued: i64 = sqlx::query_scalar(
                                "SELECT COUNT(*) FROM jobs WHERE state = 'queued'",
                            )
                            .fetch_one(&db.meta)
                            .await
                            .unwrap();
                            if queued == 0 {
                                break;
                            }
                        }
                    }
                }
                taken
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all.sort();
        let before = all.len();
        all.dedup();
        assert_eq!(
            (before, all.len()),
            (40, 40),
            "every job taken exactly once"
        );
    }
);
