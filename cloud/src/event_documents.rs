//! Event documents (the raw JSON attached to a stream event) in object storage. The document
//! is stored before its row, so a row never names a missing object; an object whose row was
//! never written is the cost of a failure between the two.
//!
//! Keys live under `events/<stream slug>/`: `<uuid>.json` for documents posted over HTTP,
//! `<report id>/<n>.json` for the `n`th event of an ingested report, so that processing the
//! report again rewrites the same objects.

use bytes::Bytes;
use futures::StreamExt;
use sqlx::AnyPool;

use crate::blobs::{BlobError, Blobs};
use crate::store::events::{self, RawDocument};

/// Object writes in flight at once while storing a report's documents.
const PARALLEL_PUTS: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("the document of event {0} is not UTF-8")]
    NotUtf8(i64),
}

/// The key of a document posted over HTTP: new for every write.
pub fn posted_key(stream_slug: &str) -> String {
    format!("events/{stream_slug}/{}.json", uuid::Uuid::new_v4())
}

/// The key of the document of the `n`th event (file order) of report `report_id`.
pub fn report_key(stream_slug: &str, report_id: &str, n: usize) -> String {
    format!("events/{stream_slug}/{report_id}/{n}.json")
}

/// Stores documents, several at a time; the first failure is returned (others may have been
/// stored).
pub async fn put_all(blobs: &Blobs, docs: Vec<(String, String)>) -> Result<(), BlobError> {
    let mut puts = futures::stream::iter(docs)
        .map(|(key, text)| async move { blobs.put(&key, Bytes::from(text)).await })
        .buffer_unordered(PARALLEL_PUTS);
    while let Some(done) = puts.next().await {
        done?;
    }
    Ok(())
}

/// The raw document of event `id`, if it has one.
pub async fn read(blobs: &Blobs, pool: &AnyPool, id: i64) -> Result<Option<String>, DocumentError> {
    match events::raw_document(pool, id).await? {
        None => Ok(None),
        Some(RawDocument::Inline(text)) => Ok(Some(text)),
        Some(RawDocument::Object(key)) => {
            let bytes = blobs.get(&key).await?;
            String::from_utf8(bytes.to_vec())
                .map(Some)
                .map_err(|_| DocumentError::NotUtf8(id))
        }
    }
}

/// Removes the objects of deleted events. Best effort: the rows are gone already, so a
/// failure only leaves an unreferenced object behind, and is logged.
pub async fn delete_all(blobs: &Blobs, keys: &[String]) {
    for key in keys {
        if let Err(e) = blobs.delete(key).await {
            tracing::warn!(key = %key, error = %e, "an event document could not be deleted");
        }
    }
}
