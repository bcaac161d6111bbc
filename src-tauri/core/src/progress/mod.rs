//! From a daemon's pull stream to one progress bar people can trust.
//!
//! [`stream`] cuts the raw bytes into messages, whatever the reads' boundaries;
//! [`layers`] folds the messages into per-layer states and an aggregate that never goes
//! backwards, never exceeds 100 % and admits when it does not know.

pub mod layers;
pub mod stream;

pub use layers::{LayerState, LayerView, PullProgress, PullSnapshot};
pub use stream::{JsonLines, PullMessage};
