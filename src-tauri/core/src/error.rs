//! The one error type of Berth's domain, and the `{kind, message}` shape it takes on the wire.

use serde::Serialize;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in Berth's domain.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bot or snapshot name (`what`) broke the naming rules.
    #[error("invalid {what} name: {reason}")]
    InvalidName { what: &'static str, reason: String },

    /// Another bot already has this name, compared ignoring case.
    #[error("a bot named `{name}` already exists")]
    NameTaken { name: String },

    /// The bot (by name) already has a snapshot of this name, compared ignoring case.
    #[error("`{bot}` already has a snapshot named `{name}`")]
    SnapshotNameTaken { bot: String, name: String },

    /// No snapshot has this id.
    #[error("no snapshot with id `{snapshot}`")]
    SnapshotNotFound { snapshot: String },

    /// The snapshot's image or data is gone or damaged, so it cannot be restored.
    #[error("snapshot `{name}` cannot be restored: {reason}")]
    SnapshotBroken { name: String, reason: String },

    /// The image reference does not follow the Docker reference grammar; `reason` says why
    /// in a sentence that names the reference.
    #[error("{reason}")]
    InvalidReference { reference: String, reason: String },

    /// No bot has this id.
    #[error("no bot with id `{bot}`")]
    BotNotFound { bot: String },

    /// The bot (by name) has no container to act on.
    #[error("`{bot}` has no container")]
    NoContainer { bot: String },

    /// The bot (by name) already has a container; it must be deleted before another is created.
    #[error("`{bot}` already has container `{container}`")]
    ContainerExists { bot: String, container: String },

    /// Another operation is running on this bot (named as its user named it).
    #[error("`{bot}` is busy: {operation} is running")]
    Busy { bot: String, operation: String },

    /// No running operation has this id.
    #[error("no running operation with id `{operation}`")]
    OperationNotFound { operation: String },

    /// The operation was cancelled by the user.
    #[error("{operation} was cancelled")]
    Cancelled { operation: String },

    /// Berth could not reach the engine at all.
    #[error("the engine at `{endpoint}` is unreachable: {reason}")]
    EngineUnreachable { endpoint: String, reason: String },

    /// The engine answered, but refused or failed the request.
    #[error("{action} failed: {message}")]
    Engine { action: String, message: String },

    /// The registry has no such image, or refused to serve it.
    #[error("image `{image}` was not found: {message}")]
    ImageNotFound { image: String, message: String },

    /// The image cannot host a bot container.
    #[error("image `{image}` cannot be used: {reason}")]
    ImageUnsuitable { image: String, reason: String },

    /// The pull stream reported an error, or ended without finishing.
    #[error("pulling `{image}` failed: {message}")]
    Pull { image: String, message: String },

    /// A file chosen for import is no archive Berth can read.
    #[error("`{file}` cannot be imported: {reason}")]
    ArchiveInvalid { file: String, reason: String },

    /// An archive holds entries that could write outside the data directory or make special
    /// files; each is listed with its reason.
    #[error("`{file}` was not imported: {}", list_entries(.entries))]
    ArchiveRefused { file: String, entries: Vec<String> },

    /// An export's name had its extension added, and a file of the name that made is there:
    /// the save dialog only asked about the name as typed.
    #[error("`{path}` already exists; choose another name, or type this one to replace it")]
    ExportExists { path: String },

    /// An import stopped, and what the data directory held could not be put back.
    #[error(
        "the import stopped ({cause}) and the data directory could not be put back as it \
         was: {failure}; its old content is kept in `{kept}`"
    )]
    PutBackFailed { cause: String, failure: String, kept: String },

    /// The chosen place for an export cannot take a file: a folder, or in no folder there is.
    #[error("cannot export to `{path}`: {reason}")]
    ExportPlace { path: String, reason: &'static str },

    /// The data directory's file system has too little room.
    #[error(
        "the data directory needs {} free for this archive and has {}",
        needed.map_or("more than a disk holds".to_owned(), shown_size),
        shown_size(*.available)
    )]
    /// `needed` is none when the archive declares more bytes than can be counted.
    NoSpace { needed: Option<u64>, available: u64 },

    /// The SQLite store failed.
    #[error("{action}: {source}")]
    Store {
        action: &'static str,
        #[source]
        source: rusqlite::Error,
    },

    /// The store's schema could not be brought up to date.
    #[error("migrating the store at `{path}`: {source}")]
    Migration {
        path: String,
        #[source]
        source: rusqlite_migration::Error,
    },

    /// An operation's worker stopped without saying how it ended: a bug, reported as such.
    #[error("{operation} ended without an outcome")]
    Unfinished { operation: String },

    /// Berth is shutting down and can no longer do the work.
    #[error("Berth is shutting down")]
    ShuttingDown,

    /// A file or directory on the host could not be used.
    #[error("{action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The stable name the UI branches on; the message is for people only.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidName { .. } => "invalidName",
            Error::NameTaken { .. } | Error::SnapshotNameTaken { .. } => "nameTaken",
            Error::SnapshotNotFound { .. } => "notFound",
            Error::SnapshotBroken { .. } => "snapshotBroken",
            Error::InvalidReference { .. } => "invalidReference",
            Error::BotNotFound { .. } | Error::OperationNotFound { .. } => "notFound",
            Error::NoContainer { .. } => "noContainer",
            Error::ContainerExists { .. } => "containerExists",
            Error::Busy { .. } => "busy",
            Error::Cancelled { .. } => "cancelled",
            Error::EngineUnreachable { .. } => "engineUnreachable",
            Error::Engine { .. } => "engine",
            Error::ImageNotFound { .. } => "imageNotFound",
            Error::Pull { .. } => "pull",
            Error::ImageUnsuitable { .. } => "imageUnsuitable",
            Error::ArchiveInvalid { .. } => "archiveInvalid",
            Error::ArchiveRefused { .. } => "archiveRefused",
            Error::NoSpace { .. } => "noSpace",
            Error::ExportExists { .. } => "exportExists",
            Error::ExportPlace { .. } => "exportPlace",
            Error::PutBackFailed { .. } => "putBackFailed",
            Error::Store { .. } | Error::Migration { .. } => "store",
            Error::Io { .. } => "io",
            Error::ShuttingDown => "shuttingDown",
            Error::Unfinished { .. } => "internal",
        }
    }

    /// Wraps a store failure with what was being attempted.
    pub(crate) fn store(action: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
        move |source| Error::Store { action, source }
    }

    pub fn payload(&self) -> ErrorPayload {
        ErrorPayload { kind: self.kind().to_owned(), message: self.to_string() }
    }
}

/// A number of bytes as people read it: `1.2 GB`.
fn shown_size(bytes: u64) -> String {
    bytesize::ByteSize(bytes).display().si().to_string()
}

/// The refused entries of an archive for a message: the first ten, then how many more.
pub(crate) fn list_entries(entries: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut listed = entries.iter().take(SHOWN).cloned().collect::<Vec<_>>().join("; ");
    if entries.len() > SHOWN {
        listed.push_str(&format!("; and {} more", entries.len() - SHOWN));
    }
    listed
}

/// The only error shape that crosses into the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ErrorPayload {
    pub kind: String,
    pub message: String,
}

impl From<&Error> for ErrorPayload {
    fn from(error: &Error) -> Self {
        error.payload()
    }
}

impl From<Error> for ErrorPayload {
    fn from(error: Error) -> Self {
        error.payload()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_json_is_kind_and_message() {
        let error = Error::Busy { bot: "b1".into(), operation: "create".into() };
        let json = serde_json::to_value(error.payload()).expect("payload serializes");
        assert_eq!(
            json,
            serde_json::json!({
                "kind": "busy",
                "message": "`b1` is busy: create is running",
            })
        );
    }

    #[test]
    fn engine_unreachable_names_the_endpoint() {
        let error = Error::EngineUnreachable {
            endpoint: "unix:///var/run/docker.sock".into(),
            reason: "connection refused".into(),
        };
        let json = serde_json::to_value(error.payload()).expect("payload serializes");
        assert_eq!(json["kind"], "engineUnreachable");
        assert_eq!(
            json["message"],
            "the engine at `unix:///var/run/docker.sock` is unreachable: connection refused"
        );
    }

    #[test]
    fn too_little_room_reads_in_sizes_people_know() {
        let error = Error::NoSpace { needed: Some(1_234_000_000), available: 56_700_000 };
        assert_eq!(
            error.to_string(),
            "the data directory needs 1.2 GB free for this archive and has 56.7 MB"
        );
        let beyond = Error::NoSpace { needed: None, available: 56_700_000 };
        assert!(beyond.to_string().contains("needs more than a disk holds free"), "{beyond}");
    }
}
