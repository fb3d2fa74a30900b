//! `iotile-cloud`: a REST API compatible with IOTile Cloud's `/api/v1/`, so the Python SDK
//! `iotile-cloud` and coretools' `iotile-ext-cloud` work against it unchanged.
//!
//! - `config`: settings from flags, env, a TOML file and defaults;
//! - `db`: SQLite or PostgreSQL pools (metadata and stream data) and embedded migrations;
//! - `store`: every SQL statement, one module per table family;
//! - `auth`: passwords, JWTs, org roles and the request's `Caller`;
//! - `blobs`: object storage (local disk or S3) for raw reports and other files;
//! - `script_files`, `script_release`: OTA script bytes in the object store, and whether a
//!   script may be released under its org's release keys;
//! - `charts`: planning a stream's downsampled chart over its rollup tiers (pure);
//! - `http`: axum routes, one module per resource, with the original's JSON shapes and errors;
//! - `time`: the API's datetime formats;
//! - `state`: what handlers share;
//! - `ingest`: report processing, from decoded reports to stream rows (pure);
//! - `ota`: deployments' rollout, counting and release, whoever asks (user, gateway, worker);
//! - `worker`: job workers that process uploaded reports, exactly once;
//! - `web`: the admins' web pages (server-rendered, same permissions as the API);
//! - `server`: binding, serving and graceful shutdown;
//! - `probe`: the health checks `iotile-cloud health` runs.

pub mod auth;
pub mod blobs;
pub mod charts;
pub mod config;
pub mod db;
pub mod event_documents;
pub mod http;
pub mod ingest;
pub mod ota;
pub mod probe;
pub mod script_files;
pub mod script_release;
pub mod server;
pub mod state;
pub mod store;
pub mod time;
pub mod web;
pub mod worker;
