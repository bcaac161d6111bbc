//! The Docker engine: how Berth reaches it, what it asks of it, and how it follows it live.
//!
//! - [`link`]: the supervised connection, with reconnection and the event stream.
//! - [`pull`]: image pulls with their raw progress stream.
//! - [`containers`]: bot containers and their data volumes.
//! - [`images`]: what snapshots need: commits, tar streams, flattening and image clean-up.
//! - [`volume_jobs`]: short-lived containers that empty, set aside or measure a data volume.

pub mod containers;
pub mod images;
pub mod link;
pub mod pull;
pub mod volume_jobs;

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::Docker;
use serde::Serialize;

use crate::error::{Error, Result};

/// The label that marks a container or volume as Berth's, with the owning bot's id.
pub const LABEL_BOT: &str = "io.berth.bot";

/// Where the engine listens when `DOCKER_HOST` is not set, as for the docker CLI.
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// How long connecting may take before the engine counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// An address of the engine, as `DOCKER_HOST` writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(String),
    Tcp(String),
}

impl Endpoint {
    /// The endpoint the docker CLI would use by default: `DOCKER_HOST`, else the local socket.
    pub fn from_env() -> String {
        std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_HOST.to_owned())
    }

    pub fn parse(host: &str) -> Result<Endpoint> {
        if let Some(path) = host.strip_prefix("unix://") {
            return Ok(Endpoint::Unix(path.to_owned()));
        }
        let authority = host.strip_prefix("tcp://").or_else(|| host.strip_prefix("http://"));
        match authority {
            Some(authority) => Ok(Endpoint::Tcp(authority.trim_end_matches('/').to_owned())),
            None => Err(Error::EngineUnreachable {
                endpoint: host.to_owned(),
                reason: "only unix:// and tcp:// endpoints are supported".into(),
            }),
        }
    }
}

/// Facts about the connected engine, shown in the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineInfo {
    pub endpoint: String,
    pub version: String,
    pub api_version: String,
    pub os: String,
}

/// A connected engine. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    endpoint: Endpoint,
    info: EngineInfo,
    labels: BTreeMap<String, String>,
}

impl Engine {
    /// Connects as the docker CLI does and settles on an API version both sides speak.
    ///
    /// `labels` are added to everything this engine handle creates, so that tests can find
    /// and remove what they made.
    pub async fn connect(host: &str, labels: BTreeMap<String, String>) -> Result<Engine> {
        let unreachable =
            |reason: String| Error::EngineUnreachable { endpoint: host.to_owned(), reason };
        let endpoint = Endpoint::parse(host)?;
        let docker = Docker::connect_with_host(host).map_err(|e| unreachable(reason_of(&e)))?;

        let handshake = async {
            let docker = docker.negotiate_version().await?;
            let version = docker.version().await?;
            Ok::<_, bollard::errors::Error>((docker, version))
        };
        let (docker, version) = tokio::time::timeout(CONNECT_TIMEOUT, handshake)
            .await
            .map_err(|_| unreachable("no answer within 5 seconds".into()))?
            .map_err(|e| unreachable(reason_of(&e)))?;

        let info = EngineInfo {
            endpoint: host.to_owned(),
            version: version.version.unwrap_or_else(|| "unknown".into()),
            api_version: docker.client_version().to_string(),
            os: version.os.unwrap_or_default(),
        };
        tracing::info!(endpoint = host, version = %info.version, api = %info.api_version,
            "connected to the engine");
        Ok(Engine { docker, endpoint, info, labels })
    }

    pub fn info(&self) -> &EngineInfo {
        &self.info
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The labels for a resource of `bot`: Berth's own and any extra ones.
    pub fn labels_for(&self, bot: &str) -> std::collections::HashMap<String, String> {
        let mut labels: std::collections::HashMap<_, _> = self.labels.clone().into_iter().collect();
        labels.insert(LABEL_BOT.to_owned(), bot.to_owned());
        labels
    }

    /// Turns a bollard error into Berth's: refused requests keep the engine's message, and
    /// transport failures mean the engine is gone.
    pub(crate) fn error(
        &self,
        action: impl Into<String>,
    ) -> impl FnOnce(bollard::errors::Error) -> Error + '_ {
        let action = action.into();
        move |e| match e {
            bollard::errors::Error::DockerResponseServerError { message, .. } => {
                Error::Engine { action, message }
            }
            other => Error::EngineUnreachable {
                endpoint: self.info.endpoint.clone(),
                reason: reason_of(&other),
            },
        }
    }
}

/// True when the engine answered that the thing asked about does not exist.
pub(crate) fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
}

/// True when the engine refused because of the target's state (a stopped container's `top`).
pub(crate) fn is_conflict(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 409, .. })
}

/// A short reason for a transport failure, without the error's debug noise.
fn reason_of(e: &bollard::errors::Error) -> String {
    use std::error::Error as _;
    let mut reason = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        reason = inner.to_string();
        source = inner.source();
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_as_docker_host_writes_them() {
        assert_eq!(
            Endpoint::parse("unix:///run/user/1000/docker.sock").expect("unix"),
            Endpoint::Unix("/run/user/1000/docker.sock".into())
        );
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:2375").expect("tcp"),
            Endpoint::Tcp("127.0.0.1:2375".into())
        );
        assert!(matches!(Endpoint::parse("ssh://me@host"), Err(Error::EngineUnreachable { .. })));
    }
}
