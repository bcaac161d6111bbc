//! What snapshots ask of the engine: pausing, committing a container to an image, streaming a
//! directory out of and into a container as tar, flattening an image that grew too deep, and
//! removing images no snapshot needs.

use std::collections::HashMap;

use bollard::models::{ContainerConfig, ContainerCreateBody, ImageConfig};
use bollard::query_parameters::{
    CommitContainerOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
    DownloadFromContainerOptionsBuilder, ListImagesOptionsBuilder, RemoveImageOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};

use super::{is_conflict, is_not_found, Engine, LABEL_BOT};
use crate::error::{Error, Result};

/// The label that names the snapshot an image holds.
pub const LABEL_SNAPSHOT: &str = "io.berth.snapshot";

/// The repository Berth tags a bot's snapshot images in, one tag per snapshot.
pub fn snapshot_repository(bot: &str) -> String {
    format!("berth-snapshot/{bot}")
}

/// What the engine says about an image.
#[derive(Debug, Clone)]
pub struct ImageFacts {
    pub id: String,
    /// Filesystem layers, bottom first.
    pub layers: usize,
    pub size: i64,
    pub config: ImageConfig,
}

/// An image of Berth's snapshots, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotImage {
    pub id: String,
    pub tags: Vec<String>,
    pub snapshot: Option<String>,
}

impl Engine {
    pub async fn pause_container(&self, id: &str) -> Result<()> {
        self.docker.pause_container(id).await.map_err(self.error(format!("pausing `{id}`")))
    }

    pub async fn unpause_container(&self, id: &str) -> Result<()> {
        self.docker.unpause_container(id).await.map_err(self.error(format!("resuming `{id}`")))
    }

    /// Commits the container's filesystem to an image tagged `repository:tag`, without pausing
    /// it (the caller decides that), and returns the image's id.
    pub async fn commit(
        &self,
        container: &str,
        (repository, tag): (&str, &str),
        labels: HashMap<String, String>,
    ) -> Result<String> {
        let options = CommitContainerOptionsBuilder::default()
            .container(container)
            .repo(repository)
            .tag(tag)
            .pause(false)
            .build();
        let config = ContainerConfig { labels: Some(labels), ..Default::default() };
        let committed = self
            .docker
            .commit_container(options, config)
            .await
            .map_err(self.error(format!("saving the filesystem of `{container}`")))?;
        Ok(committed.id)
    }

    /// The image's facts, or `None` when the engine has no such image.
    pub async fn image_facts(&self, image: &str) -> Result<Option<ImageFacts>> {
        let inspect = match self.docker.inspect_image(image).await {
            Ok(inspect) => inspect,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(self.error(format!("inspecting image `{image}`"))(e)),
        };
        Ok(Some(ImageFacts {
            id: inspect.id.unwrap_or_default(),
            layers: inspect.root_fs.and_then(|r| r.layers).map_or(0, |l| l.len()),
            size: inspect.size.unwrap_or_default(),
            config: inspect.config.unwrap_or_default(),
        }))
    }

    /// Removes the image (by id or tag) when nothing needs it: `false` when a container or
    /// another image still uses it, and it stays. One already gone is no error.
    pub async fn remove_image(&self, image: &str) -> Result<bool> {
        let options = RemoveImageOptionsBuilder::default().force(false).noprune(false).build();
        match self.docker.remove_image(image, Some(options), None).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(self.error(format!("removing image `{image}`"))(e)),
        }
    }

    /// Every image labelled as a snapshot image of `bot`, intermediate ones included (a deleted
    /// snapshot's image that a later one builds on).
    pub async fn snapshot_images(&self, bot: &str) -> Result<Vec<SnapshotImage>> {
        let label = format!("{LABEL_BOT}={bot}");
        let filters = HashMap::from([("label".to_owned(), vec![label])]);
        let options = ListImagesOptionsBuilder::default().all(true).filters(&filters).build();
        let images = self
            .docker
            .list_images(Some(options))
            .await
            .map_err(self.error("listing snapshot images"))?;
        Ok(images
            .into_iter()
            .filter(|i| i.labels.contains_key(LABEL_SNAPSHOT))
            .map(|i| SnapshotImage {
                snapshot: i.labels.get(LABEL_SNAPSHOT).cloned(),
                id: i.id,
                tags: i.repo_tags.into_iter().filter(|t| t != "<none>:<none>").collect(),
            })
            .collect())
    }

    /// The directory `path` of the container as a tar stream whose entries start with the
    /// directory's own name. Works on running, paused and stopped containers.
    pub fn download(&self, container: &str, path: &str) -> impl Stream<Item = Result<Bytes>> + '_ {
        let options = DownloadFromContainerOptionsBuilder::default().path(path).build();
        let action = format!("reading `{path}` of `{container}`");
        self.docker
            .download_from_container(container, Some(options))
            .map_err(move |e| self.error(action.clone())(e))
    }

    /// Unpacks a tar stream into the container at `path`; the container need not run.
    pub async fn upload<S>(&self, container: &str, path: &str, tar: S) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let options = UploadToContainerOptionsBuilder::default().path(path).build();
        self.docker
            .upload_to_container(container, Some(options), bollard::body_try_stream(tar))
            .await
            .map_err(self.error(format!("writing into `{path}` of `{container}`")))
    }

    /// Re-writes `image` as a single layer tagged `repository:tag`, keeping its settings, and
    /// returns the new image's id. Each snapshot of a restored container adds a layer, and the
    /// engine refuses images deeper than about 125.
    pub async fn flatten(
        &self,
        bot: &str,
        image: &str,
        (repository, tag): (&str, &str),
    ) -> Result<String> {
        let facts = self.image_facts(image).await?.ok_or_else(|| Error::Engine {
            action: format!("flattening image `{image}`"),
            message: "the image is gone".into(),
        })?;
        let body = ContainerCreateBody {
            image: Some(facts.id.clone()),
            labels: Some(self.labels_for(bot)),
            ..Default::default()
        };
        let name = format!("berth-flatten-{}", uuid::Uuid::new_v4().simple());
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        let created = self
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(self.error(format!("flattening image `{image}`")))?;
        let imported = self.import(&created.id, (repository, tag), &facts.config).await;
        if let Err(error) = self.remove_container(&created.id).await {
            tracing::warn!(container = %created.id, %error, "could not remove a flattening helper");
        }
        imported
    }

    /// Imports the exported filesystem of `container` as a new image with `config`'s settings.
    async fn import(
        &self,
        container: &str,
        (repository, tag): (&str, &str),
        config: &ImageConfig,
    ) -> Result<String> {
        let action = format!("flattening into `{repository}:{tag}`");
        let export = self.docker.export_container(container).map_err(std::io::Error::other);
        let options = CreateImageOptionsBuilder::default()
            .from_src("-")
            .repo(repository)
            .tag(tag)
            .changes(import_changes(config))
            .build();
        let mut answers =
            self.docker.create_image(Some(options), Some(bollard::body_try_stream(export)), None);
        while let Some(answer) = answers.next().await {
            answer.map_err(self.error(action.clone()))?;
        }
        let reference = format!("{repository}:{tag}");
        let facts = self.image_facts(&reference).await?;
        facts.map(|f| f.id).ok_or(Error::Engine { action, message: "no image came of it".into() })
    }
}

/// The Dockerfile instructions that give an imported image the settings of `config`. Only
/// what an import accepts is carried: command, environment, user, directory, labels, ports,
/// volumes and stop signal.
pub fn import_changes(config: &ImageConfig) -> Vec<String> {
    let mut changes = Vec::new();
    let json = |words: &Vec<String>| serde_json::to_string(words).unwrap_or_default();
    if let Some(entrypoint) = config.entrypoint.as_ref().filter(|e| !e.is_empty()) {
        changes.push(format!("ENTRYPOINT {}", json(entrypoint)));
    }
    if let Some(cmd) = config.cmd.as_ref().filter(|c| !c.is_empty()) {
        changes.push(format!("CMD {}", json(cmd)));
    }
    for variable in config.env.iter().flatten() {
        if let Some((key, value)) = variable.split_once('=') {
            changes.push(format!("ENV {key}={}", quoted(value)));
        }
    }
    if let Some(user) = config.user.as_ref().filter(|u| !u.is_empty()) {
        changes.push(format!("USER {user}"));
    }
    if let Some(dir) = config.working_dir.as_ref().filter(|d| !d.is_empty()) {
        changes.push(format!("WORKDIR {dir}"));
    }
    let mut labels: Vec<_> = config.labels.iter().flatten().collect();
    labels.sort();
    for (key, value) in labels {
        changes.push(format!("LABEL {}={}", quoted(key), quoted(value)));
    }
    for port in config.exposed_ports.iter().flatten() {
        changes.push(format!("EXPOSE {port}"));
    }
    for volume in config.volumes.iter().flatten() {
        changes.push(format!("VOLUME {}", json(&vec![volume.clone()])));
    }
    if let Some(signal) = config.stop_signal.as_ref().filter(|s| !s.is_empty()) {
        changes.push(format!("STOPSIGNAL {signal}"));
    }
    changes
}

/// A value as a Dockerfile reads it back unchanged: in double quotes, with quotes, backslashes
/// and `$` (which would start a variable) escaped.
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_keeps_the_settings_an_image_had() {
        let config = ImageConfig {
            entrypoint: Some(vec!["tail".into(), "-f".into(), "/dev/null".into()]),
            cmd: Some(vec!["/bin/sh".into()]),
            env: Some(vec!["PATH=/usr/bin:/bin".into(), "GREETING=say \"hi\" $HOME".into()]),
            user: Some("bot".into()),
            working_dir: Some("/srv".into()),
            labels: Some(HashMap::from([("io.berth.bot".into(), "b1".into())])),
            ..Default::default()
        };
        assert_eq!(
            import_changes(&config),
            vec![
                r#"ENTRYPOINT ["tail","-f","/dev/null"]"#,
                r#"CMD ["/bin/sh"]"#,
                r#"ENV PATH="/usr/bin:/bin""#,
                r#"ENV GREETING="say \"hi\" \$HOME""#,
                "USER bot",
                "WORKDIR /srv",
                r#"LABEL "io.berth.bot"="b1""#,
            ]
        );
    }

    #[test]
    fn an_image_without_settings_needs_no_changes() {
        assert!(import_changes(&ImageConfig::default()).is_empty());
    }
}
