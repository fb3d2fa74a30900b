//! Who is calling and what they may do.
//!
//! - `password`: argon2 hashing and the static API token;
//! - `tokens`: user JWTs (`jwt`) and device JWTs (`a-jwt`), both HS256;
//! - `secret`: the server's signing secret, made on first start and kept in a 0600 file;
//! - `links`: signed, expiring links (script downloads and uploads without a header);
//! - `perms`: org roles and the permission maps they grant;
//! - `caller`: the request extractor that turns an `Authorization` header into a `Caller`;
//! - `limiter`: the failed-login rate limit.

pub mod caller;
pub mod limiter;
pub mod links;
pub mod password;
pub mod perms;
pub mod secret;
pub mod tokens;

pub use caller::{Caller, MaybeCaller};
