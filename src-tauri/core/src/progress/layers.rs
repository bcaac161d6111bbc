//! Per-layer pull states and the aggregate byte bar.
//!
//! Each layer is weighed twice its size, once for download and once for extraction, as the
//! daemon reports both. Layers whose size is not known yet are weighed at the mean size of the
//! known ones. The bar is indeterminate until some size is known, and once shown it never goes
//! backwards: layers that appear late or downloads that restart only slow it down.

use serde::Serialize;

use super::stream::PullMessage;

/// Where one layer of a pull stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum LayerState {
    Waiting,
    Downloading,
    Verifying,
    Downloaded,
    Extracting,
    Complete,
    /// The engine already had it: nothing to fetch.
    Exists,
    Retrying,
}

impl LayerState {
    fn from_status(status: &str) -> Option<LayerState> {
        let state = match status {
            "Pulling fs layer" | "Waiting" => LayerState::Waiting,
            "Downloading" => LayerState::Downloading,
            "Verifying Checksum" => LayerState::Verifying,
            "Download complete" => LayerState::Downloaded,
            "Extracting" => LayerState::Extracting,
            "Pull complete" => LayerState::Complete,
            "Already exists" => LayerState::Exists,
            s if s.starts_with("Retrying") => LayerState::Retrying,
            _ => return None,
        };
        Some(state)
    }
}

/// One layer as the UI shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerView {
    pub id: String,
    pub state: LayerState,
    /// Bytes downloaded so far.
    pub current: u64,
    /// The layer's size, when the engine has said it.
    pub total: Option<u64>,
}

/// The whole pull as the UI shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PullSnapshot {
    pub layers: Vec<LayerView>,
    /// From 0 to 1; `None` while the engine has given no sizes (an indeterminate bar).
    pub fraction: Option<f64>,
    pub bytes_done: u64,
    /// The sum of all layer sizes, once every layer to fetch has one.
    pub bytes_total: Option<u64>,
    /// The last line the engine said about the whole pull (`Digest: …`, `Status: …`).
    pub status: Option<String>,
}

#[derive(Debug, Clone)]
struct Layer {
    id: String,
    state: LayerState,
    total: Option<u64>,
    downloaded: u64,
    extracted: u64,
}

/// Folds pull messages into layer states and a monotonic aggregate.
#[derive(Debug, Default)]
pub struct PullProgress {
    layers: Vec<Layer>,
    fraction: Option<f64>,
    status: Option<String>,
}

impl PullProgress {
    pub fn apply(&mut self, message: &PullMessage) {
        let Some(status) = message.status.as_deref() else {
            return;
        };
        let state = LayerState::from_status(status);

        match (message.id.as_deref(), state) {
            (Some(id), Some(state)) => self.apply_to_layer(id, state, message),
            _ => self.status = Some(status.to_owned()),
        }
        self.recompute();
    }

    /// The pull ended well: the bar is full, whatever the engine said on the way.
    pub fn finish(&mut self) {
        self.fraction = Some(1.0);
    }

    pub fn snapshot(&self) -> PullSnapshot {
        let layers = self
            .layers
            .iter()
            .map(|l| LayerView {
                id: l.id.clone(),
                state: l.state,
                current: l.downloaded,
                total: l.total,
            })
            .collect();
        let fetched = || self.layers.iter().filter(|l| l.state != LayerState::Exists);
        let bytes_done = fetched().map(|l| l.total.map_or(l.downloaded, |t| l.downloaded.min(t)));
        let bytes_total: Option<u64> = fetched().map(|l| l.total).sum();

        PullSnapshot {
            layers,
            fraction: self.fraction,
            bytes_done: bytes_done.sum(),
            bytes_total,
            status: self.status.clone(),
        }
    }

    fn apply_to_layer(&mut self, id: &str, state: LayerState, message: &PullMessage) {
        let index = match self.layers.iter().position(|l| l.id == id) {
            Some(index) => index,
            None => {
                self.layers.push(Layer {
                    id: id.to_owned(),
                    state,
                    total: None,
                    downloaded: 0,
                    extracted: 0,
                });
                self.layers.len() - 1
            }
        };
        let layer = &mut self.layers[index];
        let detail = message.progress_detail.clone().unwrap_or_default();
        let current = detail.current.and_then(|c| u64::try_from(c).ok());
        let total = detail.total.and_then(|t| u64::try_from(t).ok()).filter(|t| *t > 0);

        layer.state = state;
        match state {
            LayerState::Downloading => {
                layer.total = total.or(layer.total);
                layer.downloaded = current.unwrap_or(layer.downloaded);
            }
            LayerState::Verifying | LayerState::Downloaded => {
                layer.downloaded = layer.total.unwrap_or(layer.downloaded);
            }
            LayerState::Extracting => {
                layer.total = layer.total.or(total);
                layer.downloaded = layer.total.unwrap_or(layer.downloaded);
                layer.extracted = current.unwrap_or(layer.extracted);
            }
            LayerState::Complete => {
                layer.downloaded = layer.total.unwrap_or(layer.downloaded);
                layer.extracted = layer.total.unwrap_or(layer.extracted);
            }
            LayerState::Retrying => layer.downloaded = 0,
            LayerState::Waiting | LayerState::Exists => {}
        }
    }

    fn recompute(&mut self) {
        let fetched: Vec<&Layer> =
            self.layers.iter().filter(|l| l.state != LayerState::Exists).collect();
        let known: Vec<u64> = fetched.iter().filter_map(|l| l.total).collect();
        if known.is_empty() {
            return;
        }

        let estimate = known.iter().sum::<u64>() as f64 / known.len() as f64;
        let (mut done, mut weight) = (0.0, 0.0);
        for layer in fetched {
            let size = layer.total.map_or(estimate, |t| t as f64);
            weight += 2.0 * size;
            done += match layer.state {
                LayerState::Complete => 2.0 * size,
                _ => (layer.downloaded as f64).min(size) + (layer.extracted as f64).min(size),
            };
        }

        let fraction = done / weight;
        if fraction.is_finite() {
            let floor = self.fraction.unwrap_or(0.0);
            self.fraction = Some(fraction.clamp(floor, 1.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::stream::JsonLines;

    /// Runs a hand-made daemon stream through the aggregator, recording the bar after each line.
    fn run(stream: &str) -> (PullProgress, Vec<Option<f64>>) {
        let mut lines = JsonLines::default();
        let mut progress = PullProgress::default();
        let mut bars = Vec::new();
        for result in lines.push(stream.as_bytes()).into_iter().chain(lines.finish()) {
            progress.apply(&result.expect("fixture decodes"));
            bars.push(progress.snapshot().fraction);
        }
        (progress, bars)
    }

    fn assert_sane(bars: &[Option<f64>]) {
        let mut last = 0.0;
        let mut seen = false;
        for bar in bars {
            match bar {
                Some(f) => {
                    assert!(f.is_finite() && (0.0..=1.0).contains(f), "bar {f} out of range");
                    assert!(*f >= last, "bar went back from {last} to {f}");
                    last = *f;
                    seen = true;
                }
                None => assert!(!seen, "bar became indeterminate after being shown"),
            }
        }
    }

    const TWO_LAYERS: &str = r#"
{"status":"Pulling from berth/test","id":"latest"}
{"status":"Pulling fs layer","progressDetail":{},"id":"aaa"}
{"status":"Pulling fs layer","progressDetail":{},"id":"bbb"}
{"status":"Downloading","progressDetail":{"current":50,"total":100},"id":"aaa"}
{"status":"Downloading","progressDetail":{"current":100,"total":300},"id":"bbb"}
{"status":"Download complete","progressDetail":{},"id":"aaa"}
{"status":"Extracting","progressDetail":{"current":100,"total":100},"id":"aaa"}
{"status":"Pull complete","progressDetail":{},"id":"aaa"}
{"status":"Downloading","progressDetail":{"current":300,"total":300},"id":"bbb"}
{"status":"Verifying Checksum","progressDetail":{},"id":"bbb"}
{"status":"Download complete","progressDetail":{},"id":"bbb"}
{"status":"Extracting","progressDetail":{"current":150,"total":300},"id":"bbb"}
{"status":"Pull complete","progressDetail":{},"id":"bbb"}
{"status":"Digest: sha256:abc"}
{"status":"Status: Downloaded newer image for 127.0.0.1:5000/berth/test:latest"}
"#;

    #[test]
    fn byte_weighted_two_layers() {
        let (progress, bars) = run(TWO_LAYERS);
        assert_sane(&bars);
        // After the first download line: 50 of (2*100 + 2*estimate 100) = 0.125.
        assert_eq!(bars[3], Some(0.125));
        // Both sizes known, 50 + 100 of 800 bytes of work.
        assert_eq!(bars[4], Some(150.0 / 800.0));
        assert_eq!(bars[12], Some(1.0));
        let snapshot = progress.snapshot();
        assert_eq!(snapshot.bytes_total, Some(400));
        assert_eq!(snapshot.bytes_done, 400);
        assert_eq!(snapshot.layers.len(), 2, "the tag line is not a layer");
        assert!(snapshot.status.as_deref().is_some_and(|s| s.starts_with("Status:")));
    }

    #[test]
    fn layer_that_appears_late_never_moves_the_bar_back() {
        let stream = r#"
{"status":"Pulling fs layer","progressDetail":{},"id":"aaa"}
{"status":"Downloading","progressDetail":{"current":90,"total":100},"id":"aaa"}
{"status":"Pulling fs layer","progressDetail":{},"id":"late"}
{"status":"Downloading","progressDetail":{"current":1,"total":10000},"id":"late"}
{"status":"Pull complete","progressDetail":{},"id":"aaa"}
{"status":"Pull complete","progressDetail":{},"id":"late"}
"#;
        let (_, bars) = run(stream);
        assert_sane(&bars);
        let before = bars[1].expect("known");
        assert_eq!(bars[2], Some(before), "the late layer holds the bar, it does not lower it");
        assert_eq!(bars[3], Some(before));
        assert_eq!(bars.last(), Some(&Some(1.0)));
    }

    #[test]
    fn already_exists_layers_weigh_nothing() {
        let stream = r#"
{"status":"Already exists","progressDetail":{},"id":"base"}
{"status":"Pulling fs layer","progressDetail":{},"id":"top"}
{"status":"Downloading","progressDetail":{"current":10,"total":20},"id":"top"}
"#;
        let (progress, bars) = run(stream);
        assert_eq!(bars[2], Some(0.25));
        let snapshot = progress.snapshot();
        assert_eq!(snapshot.layers[0].state, LayerState::Exists);
        assert_eq!(snapshot.bytes_total, Some(20));
    }

    #[test]
    fn all_layers_exist_is_indeterminate_until_finished() {
        let stream = r#"{"status":"Already exists","progressDetail":{},"id":"base"}"#;
        let (mut progress, bars) = run(stream);
        assert_eq!(bars, [None]);
        progress.finish();
        assert_eq!(progress.snapshot().fraction, Some(1.0));
    }

    #[test]
    fn missing_totals_stay_indeterminate() {
        let stream = r#"
{"status":"Pulling fs layer","id":"aaa"}
{"status":"Downloading","progressDetail":{"current":512},"id":"aaa"}
{"status":"Downloading","progressDetail":{},"id":"aaa"}
{"status":"Downloading","progressDetail":{"current":1024,"total":-1},"id":"aaa"}
"#;
        let (progress, bars) = run(stream);
        assert_eq!(bars, [None, None, None, None]);
        let snapshot = progress.snapshot();
        assert_eq!(snapshot.bytes_done, 1024, "bytes still count without a total");
        assert_eq!(snapshot.bytes_total, None);
    }

    #[test]
    fn current_beyond_total_never_exceeds_one() {
        let stream = r#"
{"status":"Downloading","progressDetail":{"current":500,"total":100},"id":"aaa"}
{"status":"Extracting","progressDetail":{"current":900,"total":100},"id":"aaa"}
"#;
        let (_, bars) = run(stream);
        assert_sane(&bars);
        assert_eq!(bars[0], Some(0.5));
        assert_eq!(bars[1], Some(1.0));
    }

    #[test]
    fn retry_restarts_a_download_without_lowering_the_bar() {
        let stream = r#"
{"status":"Downloading","progressDetail":{"current":80,"total":100},"id":"aaa"}
{"status":"Retrying in 1 second","progressDetail":{},"id":"aaa"}
{"status":"Downloading","progressDetail":{"current":10,"total":100},"id":"aaa"}
"#;
        let (progress, bars) = run(stream);
        assert_sane(&bars);
        assert_eq!(bars[2], Some(0.4));
        assert_eq!(progress.snapshot().layers[0].current, 10);
    }

    #[test]
    fn zero_totals_are_unknown_not_division_by_zero() {
        let stream =
            r#"{"status":"Downloading","progressDetail":{"current":0,"total":0},"id":"a"}"#;
        let (_, bars) = run(stream);
        assert_eq!(bars, [None]);
    }

    #[test]
    fn complete_layer_without_size_counts_as_done() {
        let stream = r#"
{"status":"Downloading","progressDetail":{"current":50,"total":100},"id":"a"}
{"status":"Pull complete","progressDetail":{},"id":"b"}
"#;
        let (_, bars) = run(stream);
        assert_sane(&bars);
        assert_eq!(bars[1], Some((50.0 + 200.0) / 400.0));
    }
}
