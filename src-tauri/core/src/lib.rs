//! Berth's domain, free of any window toolkit.
//!
//! - [`archive`]: recognising data archives and checking every entry before an import.
//! - [`bots`]: bot records and their rules (names, image references).
//! - [`store`]: the SQLite file that holds bots, their containers and operations.
//! - [`engine`]: the Docker engine: connection, pulls, containers, the event stream.
//! - [`progress`]: turning a daemon's pull stream into one honest progress bar.
//! - [`journal`]: each operation's steps, and the repair of those a crash cut off.
//! - [`operations`]: long work with live progress, one operation per bot at a time.
//! - [`lifecycle`]: creating, starting, stopping and deleting a bot's container.
//! - [`data`]: a data directory exported, imported and reset as a whole.
//! - [`stats`]: a running container's CPU and memory from the engine's stats stream.
//! - [`snapshots`]: capturing a container's state, restoring it, deleting what is not needed.
//! - [`Berth`]: the object the app holds; every user action starts here.

// A release build must not be one that an environment variable can kill mid-operation.
#[cfg(all(feature = "crash-points", not(debug_assertions)))]
compile_error!("`crash-points` is for test builds: a release build has no crash points");

pub mod archive;
pub mod berth;
pub mod bots;
pub mod data;
pub mod engine;
pub mod error;
pub mod journal;
pub mod lifecycle;
pub mod operations;
pub mod progress;
pub mod snapshots;
pub mod stats;
pub mod store;
mod time;
mod transfer;

pub use berth::{Berth, Change, Config};
pub use error::{Error, ErrorPayload, Result};
