//! Image pulls, read straight from the engine's HTTP stream.
//!
//! bollard's typed pull stream drops an item's `error` field when it comes without
//! `errorDetail`, which would turn a failed pull into a silent success. Berth reads the raw
//! stream instead and decodes it with [`JsonLines`], which treats both forms as errors.

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyDataStream, BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use hyperlocal::UnixClientExt;
use tokio_util::sync::CancellationToken;

use super::{Endpoint, Engine};
use crate::bots::ImageRef;
use crate::error::{Error, Result};
use crate::progress::{JsonLines, PullMessage, PullProgress};

impl Engine {
    /// True when the engine already holds an image for this reference.
    pub async fn has_image(&self, image: &ImageRef) -> Result<bool> {
        match self.docker.inspect_image(image.as_str()).await {
            Ok(_) => Ok(true),
            Err(e) if super::is_not_found(&e) => Ok(false),
            Err(e) => Err(self.error(format!("inspecting image `{}`", image.as_str()))(e)),
        }
    }

    /// The id of the image the engine holds for this reference (`sha256:…`).
    pub async fn image_id(&self, image: &ImageRef) -> Result<String> {
        let inspect = self
            .docker
            .inspect_image(image.as_str())
            .await
            .map_err(self.error(format!("inspecting image `{}`", image.as_str())))?;
        Ok(inspect.id.unwrap_or_default())
    }

    /// The image's digest as its registry names it (`sha256:…`), when it came from one.
    pub async fn image_digest(&self, image: &ImageRef) -> Result<Option<String>> {
        let inspect = self
            .docker
            .inspect_image(image.as_str())
            .await
            .map_err(self.error(format!("inspecting image `{}`", image.as_str())))?;
        let repository = image.repository();
        let short = repository.strip_prefix("docker.io/library/").unwrap_or(&repository);
        let digest = inspect.repo_digests.unwrap_or_default().into_iter().find_map(|d| {
            let (repo, digest) = d.split_once('@')?;
            (repo == repository || repo == short).then(|| digest.to_owned())
        });
        Ok(digest)
    }

    /// Pulls `image`, reporting progress after every message, until done, failed or cancelled.
    pub async fn pull(
        &self,
        image: &ImageRef,
        cancel: &CancellationToken,
        mut on_progress: impl FnMut(&PullProgress),
    ) -> Result<()> {
        let failed = |message: String| pull_error(image, message);
        let response = tokio::select! {
            response = self.request_pull(image) => response?,
            () = cancel.cancelled() => return Err(cancelled()),
        };

        let mut body = BodyDataStream::new(response.into_body());
        let mut lines = JsonLines::default();
        let mut progress = PullProgress::default();
        loop {
            let chunk = tokio::select! {
                chunk = body.next() => chunk,
                // Dropping the response closes the connection, which stops the engine's pull.
                () = cancel.cancelled() => return Err(cancelled()),
            };
            let ended = chunk.is_none();
            let messages = match chunk {
                Some(Ok(bytes)) => lines.push(&bytes),
                Some(Err(e)) => return Err(failed(format!("the engine broke off the pull: {e}"))),
                None => lines.finish().into_iter().collect(),
            };
            for message in messages {
                let message = message.map_err(|e| failed(e.to_string()))?;
                check(&message).map_err(failed)?;
                progress.apply(&message);
                on_progress(&progress);
            }
            if ended {
                break;
            }
        }

        progress.finish();
        on_progress(&progress);
        Ok(())
    }

    async fn request_pull(&self, image: &ImageRef) -> Result<Response<Incoming>> {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("fromImage", &image.repository())
            .append_pair("tag", image.tag_or_digest())
            .finish();
        let path = format!("/v{}/images/create?{query}", self.docker.client_version());
        let unreachable = |reason: String| Error::EngineUnreachable {
            endpoint: self.info.endpoint.clone(),
            reason,
        };

        let response = send_post(&self.endpoint, &path).await.map_err(unreachable)?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }

        let message = match response.into_body().collect().await {
            Ok(body) => engine_message(&body.to_bytes()),
            Err(e) => format!("the engine answered {status} and its reason could not be read: {e}"),
        };
        tracing::debug!(%status, %message, "the engine refused the pull");
        Err(match status {
            StatusCode::NOT_FOUND => Error::ImageNotFound { image: image.as_str().into(), message },
            _ => pull_error(image, message),
        })
    }
}

/// Sends an empty POST to the engine over whichever transport its endpoint names.
async fn send_post(endpoint: &Endpoint, path: &str) -> Result<Response<Incoming>, String> {
    let body = Full::new(Bytes::new());
    let response = match endpoint {
        Endpoint::Unix(socket) => {
            let uri: hyper::Uri = hyperlocal::Uri::new(socket, path).into();
            let request = Request::post(uri).body(body).map_err(|e| e.to_string())?;
            Client::unix().request(request).await
        }
        Endpoint::Tcp(authority) => {
            let uri = format!("http://{authority}{path}");
            let request = Request::post(uri).body(body).map_err(|e| e.to_string())?;
            Client::builder(TokioExecutor::new()).build_http().request(request).await
        }
    };
    response.map_err(|e| {
        use std::error::Error as _;
        e.source().map_or_else(|| e.to_string(), ToString::to_string)
    })
}

/// A stream message that carries an error fails the pull, whatever else it says.
fn check(message: &PullMessage) -> Result<(), String> {
    match message.error_message() {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// The engine's `{"message": …}` error body, or the body as text when it is not that.
fn engine_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Message {
        message: String,
    }
    match serde_json::from_slice::<Message>(body) {
        Ok(m) => m.message,
        Err(_) => String::from_utf8_lossy(body).trim().to_owned(),
    }
}

/// Sorts a pull failure by its message. The engine reports a missing image or tag only in
/// words, in the stream or with a 404 or 500 depending on the registry and the engine's
/// version; these phrases are the ones the distribution code and Docker Hub use.
fn pull_error(image: &ImageRef, message: String) -> Error {
    let missing = ["not found", "manifest unknown", "pull access denied", "does not exist"];
    let lower = message.to_lowercase();
    if missing.iter().any(|m| lower.contains(m)) {
        Error::ImageNotFound { image: image.as_str().into(), message }
    } else {
        Error::Pull { image: image.as_str().into(), message }
    }
}

fn cancelled() -> Error {
    Error::Cancelled { operation: "the pull".into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> ImageRef {
        ImageRef::parse("127.0.0.1:5000/berth/none:latest").expect("valid")
    }

    #[test]
    fn unknown_manifest_is_image_not_found() {
        let error = pull_error(&image(), "manifest unknown: manifest unknown".into());
        assert_eq!(error.kind(), "imageNotFound");
    }

    #[test]
    fn unreachable_registry_is_a_pull_error() {
        let message = "Get \"http://127.0.0.1:5999/v2/\": dial tcp 127.0.0.1:5999: connect: \
                       connection refused";
        assert_eq!(pull_error(&image(), message.into()).kind(), "pull");
    }

    #[test]
    fn engine_message_reads_json_or_text() {
        assert_eq!(engine_message(br#"{"message":"no such image"}"#), "no such image");
        assert_eq!(engine_message(b" plain text \n"), "plain text");
    }
}
