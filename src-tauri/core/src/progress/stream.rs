//! The daemon's pull stream: JSON objects separated by line endings, cut anywhere by reads.

use serde::Deserialize;

/// One message of a pull stream, with only the fields Berth reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PullMessage {
    pub id: Option<String>,
    pub status: Option<String>,
    /// `{}` when the daemon has nothing to say; totals may be missing or `-1`.
    #[serde(default)]
    pub progress_detail: Option<ProgressDetail>,
    pub error: Option<String>,
    pub error_detail: Option<ErrorDetail>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ProgressDetail {
    pub current: Option<i64>,
    pub total: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ErrorDetail {
    pub message: Option<String>,
}

impl PullMessage {
    /// The error this message carries, if any: `errorDetail` or a bare `error` alike.
    pub fn error_message(&self) -> Option<String> {
        let detail = self.error_detail.as_ref().and_then(|d| d.message.clone());
        let message = detail.or_else(|| self.error.clone())?;
        Some(if message.trim().is_empty() {
            "the engine reported an error".into()
        } else {
            message
        })
    }
}

/// Splits a byte stream into JSON values at line endings, keeping partial lines across reads.
#[derive(Debug, Default)]
pub struct JsonLines {
    pending: Vec<u8>,
}

/// A line of the stream that is not a pull message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the engine sent a line that is not a pull message: {reason}")]
pub struct DecodeError {
    pub reason: String,
}

impl JsonLines {
    /// Takes the next read and returns every message it completed, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Result<PullMessage, DecodeError>> {
        self.pending.extend_from_slice(chunk);
        let Some(last_newline) = self.pending.iter().rposition(|b| *b == b'\n') else {
            return Vec::new();
        };

        let rest = self.pending.split_off(last_newline + 1);
        let complete = std::mem::replace(&mut self.pending, rest);
        complete.split(|b| *b == b'\n').filter_map(decode_line).collect()
    }

    /// Ends the stream: a last message without a line ending still counts.
    pub fn finish(&mut self) -> Option<Result<PullMessage, DecodeError>> {
        let rest = std::mem::take(&mut self.pending);
        decode_line(&rest)
    }
}

fn decode_line(line: &[u8]) -> Option<Result<PullMessage, DecodeError>> {
    let line = line.trim_ascii();
    if line.is_empty() {
        return None;
    }
    Some(serde_json::from_slice(line).map_err(|e| DecodeError { reason: e.to_string() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_chunks(chunks: &[&[u8]]) -> Vec<PullMessage> {
        let mut lines = JsonLines::default();
        let mut out: Vec<PullMessage> = Vec::new();
        for chunk in chunks {
            out.extend(lines.push(chunk).into_iter().map(|r| r.expect("decodes")));
        }
        out.extend(lines.finish().map(|r| r.expect("decodes")));
        out
    }

    #[test]
    fn item_split_inside_the_json() {
        let out = decode_in_chunks(&[b"{\"status\":\"Down", b"loading\",\"id\":\"a1\"}\r\n"]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status.as_deref(), Some("Downloading"));
        assert_eq!(out[0].id.as_deref(), Some("a1"));
    }

    #[test]
    fn item_split_between_carriage_return_and_line_feed() {
        let out = decode_in_chunks(&[b"{\"status\":\"one\"}\r", b"\n{\"status\":\"two\"}\r\n"]);
        let statuses: Vec<_> = out.iter().map(|m| m.status.clone().unwrap_or_default()).collect();
        assert_eq!(statuses, ["one", "two"]);
    }

    #[test]
    fn byte_at_a_time_yields_the_same_messages() {
        let stream = b"{\"status\":\"a\"}\r\n{\"status\":\"b\",\"progressDetail\":{}}\r\n";
        let chunks: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(decode_in_chunks(&chunks).len(), 2);
    }

    #[test]
    fn last_item_without_line_ending_counts() {
        let out = decode_in_chunks(&[b"{\"status\":\"a\"}\n{\"status\":\"tail\"}"]);
        assert_eq!(out.last().and_then(|m| m.status.as_deref()), Some("tail"));
    }

    #[test]
    fn blank_lines_are_skipped() {
        assert_eq!(decode_in_chunks(&[b"\r\n\n{\"status\":\"a\"}\n\n"]).len(), 1);
    }

    #[test]
    fn empty_progress_detail_and_negative_totals_decode() {
        let out = decode_in_chunks(&[
            b"{\"id\":\"l\",\"status\":\"Waiting\",\"progressDetail\":{}}\n",
            br#"{"id":"l","status":"Downloading","progressDetail":{"current":5,"total":-1}}"#,
            b"\n",
        ]);
        assert_eq!(out[0].progress_detail, Some(ProgressDetail::default()));
        assert_eq!(out[1].progress_detail.as_ref().and_then(|d| d.total), Some(-1));
    }

    #[test]
    fn error_without_error_detail_is_an_error() {
        let out = decode_in_chunks(&[b"{\"error\":\"manifest unknown\"}\n"]);
        assert_eq!(out[0].error_message().as_deref(), Some("manifest unknown"));
    }

    #[test]
    fn error_detail_message_is_preferred() {
        let line = br#"{"errorDetail":{"message":"detailed"},"error":"short"}"#;
        let out = decode_in_chunks(&[line]);
        assert_eq!(out[0].error_message().as_deref(), Some("detailed"));
    }

    #[test]
    fn empty_error_is_still_an_error() {
        let out = decode_in_chunks(&[br#"{"error":""}"#]);
        assert!(out[0].error_message().is_some());
    }

    #[test]
    fn garbage_line_is_a_decode_error() {
        let mut lines = JsonLines::default();
        let results = lines.push(b"<html>bad gateway</html>\n");
        assert!(results[0].is_err());
    }
}
