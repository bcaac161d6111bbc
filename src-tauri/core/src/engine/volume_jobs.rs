//! Volume jobs: short-lived containers that do work on a data volume that the engine's API
//! cannot do by itself (emptying it, moving its content aside, reading its free space),
//! whether the bot's own container runs or not.
//!
//! A job runs the bot's own image (the only one Berth knows is there) as root, without a
//! network, with the volume at `/data`, and is removed when it ends.

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptionsBuilder, LogsOptionsBuilder};
use futures_util::StreamExt;

use super::containers::DATA_PATH;
use super::Engine;
use crate::error::{Error, Result};

/// Runs `script` with `sh -c` as root in a job container of `image` mounting `volume` at `/data`,
/// with `args` as `$1`, `$2`…; returns what it printed, or fails with it when it exits
/// with another code than 0.
pub async fn run(
    engine: &Engine,
    (bot, image, volume): (&str, &str, &str),
    script: &str,
    args: &[&str],
) -> Result<String> {
    let mut command = vec!["-c".to_owned(), script.to_owned(), "berth-job".to_owned()];
    command.extend(args.iter().map(|a| (*a).to_owned()));
    let body = ContainerCreateBody {
        image: Some(image.to_owned()),
        entrypoint: Some(vec!["/bin/sh".to_owned()]),
        cmd: Some(command),
        user: Some("0".to_owned()),
        labels: Some(engine.labels_for(bot)),
        host_config: Some(HostConfig {
            binds: Some(vec![format!("{volume}:{DATA_PATH}")]),
            network_mode: Some("none".to_owned()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let name = format!("berth-job-{}", uuid::Uuid::new_v4().simple());
    let options = CreateContainerOptionsBuilder::default().name(&name).build();
    let docker = engine.docker();
    let created = docker
        .create_container(Some(options), body)
        .await
        .map_err(engine.error("creating a container for a volume job"))?;
    let result = run_created(engine, image, &created.id).await;
    if let Err(error) = engine.remove_container(&created.id).await {
        let container = &created.id;
        tracing::warn!(%container, %error, "could not remove a volume job's container");
    }
    result
}

async fn run_created(engine: &Engine, image: &str, id: &str) -> Result<String> {
    let docker = engine.docker();
    if let Err(error) = docker.start_container(id, None).await {
        let message = error.to_string();
        if message.contains("/bin/sh") {
            return Err(Error::ImageUnsuitable {
                image: image.to_owned(),
                reason: "it has no /bin/sh, which Berth runs to work on the data directory".into(),
            });
        }
        return Err(engine.error("starting a volume job")(error));
    }
    let mut waited = std::pin::pin!(docker.wait_container(id, None));
    let mut code = 0;
    while let Some(answer) = waited.next().await {
        match answer {
            Ok(_) => {}
            Err(bollard::errors::Error::DockerContainerWaitError { code: exit, .. }) => code = exit,
            Err(error) => return Err(engine.error("waiting for a volume job")(error)),
        }
    }
    let options = LogsOptionsBuilder::default().stdout(true).stderr(true).build();
    let output: Vec<String> = docker
        .logs(id, Some(options))
        .filter_map(|line| async move { line.ok().map(|l| l.to_string()) })
        .collect()
        .await;
    let output = output.concat();
    if code != 0 {
        return Err(Error::Engine {
            action: "working on the data directory".into(),
            message: format!("exit code {code}: {}", output.trim()),
        });
    }
    Ok(output)
}

/// Removes everything in `/data` but the names given as arguments.
pub const CLEAR: &str = r#"cd /data || exit 1
for f in * .[!.]* ..?*; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  for keep in "$@"; do [ "$f" = "$keep" ] && continue 2; done
  rm -rf -- "$f" || exit 1
done"#;

/// Removes the directory `/data/$1` if named, then gives `/data` the modification time `$2`
/// (seconds since the epoch) if given.
pub const FINISH: &str = r#"if [ -n "$1" ]; then rm -rf -- "/data/$1" || exit 1; fi
if [ -n "$2" ]; then touch -c -d "@$2" /data || exit 1; fi"#;

/// Moves everything in `/data` into the new directory `$1` inside it.
pub const SET_ASIDE: &str = r#"cd /data && mkdir -- "$1" || exit 1
for f in * .[!.]* ..?*; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  [ "$f" = "$1" ] && continue
  mv -- "$f" "$1/" || exit 1
done"#;

/// Empties `/data` but for the directory `$1`, moves `$1`'s content back and removes it, and
/// gives `/data` the modification time `$2` it had. Does nothing when `$1` is not there.
pub const PUT_BACK: &str = r#"cd /data || exit 1
[ -d "$1" ] || exit 0
for f in * .[!.]* ..?*; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  [ "$f" = "$1" ] && continue
  rm -rf -- "$f" || exit 1
done
cd -- "$1" || exit 1
for f in * .[!.]* ..?*; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  mv -- "$f" ../ || exit 1
done
cd .. && rmdir -- "$1" || exit 1
if [ -n "$2" ]; then touch -c -d "@$2" /data; fi"#;

/// Moves back what a [`SET_ASIDE`] cut short had moved into `$1`, and removes `$1`; nothing
/// else is touched, since nothing was written yet. Does nothing when `$1` is not there.
pub const UNDO_SET_ASIDE: &str = r#"cd /data && [ -d "$1" ] || exit 0
cd -- "$1" || exit 1
for f in * .[!.]* ..?*; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  mv -- "$f" ../ || exit 1
done
cd .. && rmdir -- "$1""#;

/// Prints the data directory's modification time, then `df`'s line for its file system.
pub const SURVEY: &str = r#"stat -c 'mtime %Y' /data; df -Pk /data"#;

/// Gives the data directory itself to `$1` (`uid:gid`).
pub const GIVE_DATA_DIR: &str = r#"chown -- "$1" /data"#;

/// Prints the user and group ids of the user `$1` (`user`, `uid`, `user:group` or
/// `uid:gid`, as Docker's `USER` takes them); a name the image does not know stays as it is,
/// and a user without a group has its own, or 0.
pub const USER_IDS: &str = r#"u=${1%%:*}; g=
case "$1" in *:*) g=${1#*:} ;; esac
uid=$(id -u -- "$u" 2>/dev/null) || uid=$u
if [ -n "$g" ]; then
  gid=$(awk -F: -v g="$g" '$1 == g { print $3; exit }' /etc/group 2>/dev/null)
  [ -n "$gid" ] || gid=$g
else
  gid=$(id -g -- "$u" 2>/dev/null) || gid=0
fi
echo "$uid $gid""#;

/// What [`SURVEY`] found: the free bytes (`df -Pk`'s fourth column, in KiB) and the data
/// directory's modification time.
pub fn parse_survey(output: &str) -> (Option<u64>, Option<String>) {
    let mtime = output.lines().find_map(|l| l.strip_prefix("mtime ")).map(|m| m.trim().to_owned());
    let free = output.lines().rev().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [_, _, _, available, _, _] => available.parse::<u64>().ok()?.checked_mul(1024),
            _ => None,
        }
    });
    (free, mtime.filter(|m| m.chars().all(|c| c.is_ascii_digit()) && !m.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_survey_reads_free_space_and_time() {
        let out = "mtime 1796322888\n\
                   Filesystem 1024-blocks Used Available Capacity Mounted on\n\
                   /dev/vda 263174212 37000000 58000000 39% /data\n";
        assert_eq!(parse_survey(out), (Some(58_000_000 * 1024), Some("1796322888".into())));
        assert_eq!(parse_survey("sh: df: not found\n"), (None, None));
    }
}
