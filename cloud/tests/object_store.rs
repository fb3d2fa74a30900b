//! The object store behind raw report files: one test body run against local disk and
//! against a real S3-compatible server (moto, started here on a loopback port).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Instant;

use bytes::Bytes;
use cloud::blobs::{BlobError, Blobs};

const KEY: &str =
    "t--0000-0000-0000-00d2--0001/2026/11/25/13/6f1c2a9e-4b7d-4e1a-9c3f-2d8b5e7a0c11.bin";
const SIBLING: &str = "t--0000-0000-0000-00d2--0001/2026/11/25/13/0b5d.bin";

/// A few MB that are not all alike, so a truncated or shuffled copy would show.
fn large_object() -> Bytes {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..5 * 1024 * 1024 + 17)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

async fn exercise(blobs: &Blobs) {
    // Nothing there yet: NotFound, distinct from other errors.
    assert!(!blobs.exists(KEY).await.unwrap());
    match blobs.get(KEY).await {
        Err(BlobError::NotFound(key)) => assert_eq!(key, KEY),
        other => panic!("get of a missing key gave {other:?}"),
    }

    blobs.put(KEY, Bytes::from_static(b"first")).await.unwrap();
    assert!(blobs.exists(KEY).await.unwrap());
    assert_eq!(blobs.get(KEY).await.unwrap(), Bytes::from_static(b"first"));

    // Keys that share a prefix are separate objects; a prefix is not an object.
    blobs.put(SIBLING, Bytes::from_static(b"")).await.unwrap();
    assert_eq!(blobs.get(SIBLING).await.unwrap(), Bytes::new());
    assert!(!blobs
        .exists("t--0000-0000-0000-00d2--0001/2026/11/25/13")
        .await
        .unwrap());
    assert_eq!(blobs.get(KEY).await.unwrap(), Bytes::from_static(b"first"));

    // Overwrite replaces the whole object, shorter or longer.
    let large = large_object();
    blobs.put(KEY, large.clone()).await.unwrap();
    let back = blobs.get(KEY).await.unwrap();
    assert_eq!(back.len(), large.len());
    assert!(back == large, "the large object came back different");
    blobs.put(KEY, Bytes::from_static(b"short")).await.unwrap();
    assert_eq!(blobs.get(KEY).await.unwrap(), Bytes::from_static(b"short"));

    // Delete, and deleting again is not an error.
    blobs.delete(KEY).await.unwrap();
    assert!(!blobs.exists(KEY).await.unwrap());
    assert!(matches!(blobs.get(KEY).await, Err(BlobError::NotFound(_))));
    blobs.delete(KEY).await.unwrap();
    assert_eq!(blobs.get(SIBLING).await.unwrap(), Bytes::new());

    // Keys that could escape the store or name a directory are refused before any I/O.
    for bad in [
        "../x.bin",
        "a//b.bin",
        "a/./b.bin",
        "",
        "dir/",
        "/abs.bin",
        "a#1",
    ] {
        assert!(
            matches!(
                blobs.put(bad, Bytes::from_static(b"x")).await,
                Err(BlobError::InvalidKey { .. })
            ),
            "{bad:?} was accepted"
        );
        assert!(matches!(
            blobs.get(bad).await,
            Err(BlobError::InvalidKey { .. })
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_disk() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("objects");
    let blobs = Blobs::local(&root).unwrap();
    let started = Instant::now();
    exercise(&blobs).await;
    println!("local disk: {:?}", started.elapsed());

    // Objects are plain files under the root, and no temporary file is left behind.
    blobs
        .put(KEY, Bytes::from_static(b"on disk"))
        .await
        .unwrap();
    assert_eq!(std::fs::read(root.join(KEY)).unwrap(), b"on disk");
    let names: Vec<String> = std::fs::read_dir(root.join(KEY).parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains('#')), "{names:?}");
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(format!("{blobs:?}").contains("objects"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_compatible_server() {
    let started = Instant::now();
    // Starting blocks (venv, process, polling); its panic message is the test's failure.
    let server = tokio::task::spawn_blocking(common::s3::S3Server::start)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    println!("moto_server ready: {:?}", started.elapsed());
    server.create_bucket("iotile-reports").await;
    let blobs = Blobs::s3(&server.settings("iotile-reports")).unwrap();
    let started = Instant::now();
    exercise(&blobs).await;
    println!("S3: {:?}", started.elapsed());

    // The object is on the server, path-style under its bucket: a separate client sees it
    // and the server logged the request.
    blobs.put(KEY, Bytes::from_static(b"in s3")).await.unwrap();
    let other_client = Blobs::s3(&server.settings("iotile-reports")).unwrap();
    assert_eq!(
        other_client.get(KEY).await.unwrap(),
        Bytes::from_static(b"in s3")
    );
    let log = server.log();
    assert!(
        log.contains(&format!("PUT /iotile-reports/{KEY}")),
        "moto's log shows no path-style PUT:\n{log}"
    );

    // Descriptions and Debug name the bucket but never the secret.
    let shown = format!("{blobs:?} {:?}", server.settings("iotile-reports"));
    assert!(shown.contains("iotile-reports"), "{shown}");
    assert!(!shown.contains("testing-secret-access-key"), "{shown}");

    // A bucket that does not exist is an error, not silent success.
    let missing = Blobs::s3(&server.settings("no-such-bucket")).unwrap();
    assert!(missing.put(KEY, Bytes::from_static(b"x")).await.is_err());
}

/// The server's shared state carries the store the settings name: local disk by default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_state_holds_the_local_store() {
    let app = common::TestApp::spawn(common::Backend::Sqlite).await;
    let root = app.dir.path().join("objects");
    assert!(
        app.state
            .blobs
            .describe()
            .contains(&root.display().to_string()),
        "{}",
        app.state.blobs.describe()
    );
    app.state
        .blobs
        .put("probe/a.bin", Bytes::from_static(b"1"))
        .await
        .unwrap();
    assert_eq!(std::fs::read(root.join("probe/a.bin")).unwrap(), b"1");
}
