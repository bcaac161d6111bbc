//! Bots and the rules their fields follow: names people choose and images they name.

use oci_spec::distribution::Reference;
use serde::Serialize;

use crate::error::{Error, Result};

/// The longest bot name, in characters.
pub const NAME_MAX_CHARS: usize = 64;

/// A named record owned by Berth; at most one container belongs to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bot {
    pub id: String,
    pub name: String,
    pub image: String,
    pub created_at: i64,
}

/// A bot name that passed the rules: trimmed, 1 to 64 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotName {
    display: String,
    key: String,
}

impl BotName {
    pub fn parse(raw: &str) -> Result<BotName> {
        let display = raw.trim();
        let invalid = |reason: &str| Error::InvalidName { reason: reason.to_owned() };

        if display.is_empty() {
            return Err(invalid("a name is required"));
        }
        if display.chars().count() > NAME_MAX_CHARS {
            return Err(invalid("a name has at most 64 characters"));
        }
        if display.chars().any(char::is_control) {
            return Err(invalid("a name cannot hold control characters such as line breaks"));
        }

        let key = display.to_lowercase();
        Ok(BotName { display: display.to_owned(), key })
    }

    /// The name as the user wrote it, trimmed.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The form two names are compared in: equal keys mean the same name ignoring case.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// An image reference that follows the Docker reference grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    written: String,
    parsed: Reference,
}

impl ImageRef {
    pub fn parse(raw: &str) -> Result<ImageRef> {
        let written = raw.trim();
        let invalid =
            |reason: String| Error::InvalidReference { reference: written.to_owned(), reason };

        if written.is_empty() {
            return Err(invalid("an image reference is required".into()));
        }
        if written.chars().any(char::is_whitespace) {
            return Err(invalid("an image reference cannot hold spaces".into()));
        }
        let parsed = Reference::try_from(written).map_err(|e| invalid(e.to_string()))?;

        Ok(ImageRef { written: written.to_owned(), parsed })
    }

    /// The reference as the user wrote it, trimmed; the engine resolves it the same way.
    pub fn as_str(&self) -> &str {
        &self.written
    }

    /// The repository with its registry, as the engine's pull expects in `fromImage`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.parsed.registry(), self.parsed.repository())
    }

    /// What to pull of the repository: the digest when pinned, else the tag.
    pub fn tag_or_digest(&self) -> &str {
        self.parsed.digest().or(self.parsed.tag()).unwrap_or("latest")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_error(raw: &str) -> String {
        match BotName::parse(raw) {
            Err(Error::InvalidName { reason }) => reason,
            other => panic!("expected an invalid name for {raw:?}, got {other:?}"),
        }
    }

    #[test]
    fn name_is_trimmed() {
        let name = BotName::parse("  Scout \t").expect("valid");
        assert_eq!(name.as_str(), "Scout");
    }

    #[test]
    fn empty_and_blank_names_are_refused() {
        assert_eq!(name_error(""), "a name is required");
        assert_eq!(name_error("   \n "), "a name is required");
    }

    #[test]
    fn name_length_counts_characters_not_bytes() {
        let sixty_four = "é".repeat(64);
        assert!(BotName::parse(&sixty_four).is_ok(), "64 two-byte characters fit");
        assert_eq!(name_error(&"é".repeat(65)), "a name has at most 64 characters");
        assert!(BotName::parse(&"a".repeat(64)).is_ok());
        assert!(name_error(&"a".repeat(65)).contains("64"));
    }

    #[test]
    fn any_unicode_is_allowed() {
        for raw in ["机器人", "Ботик", "🤖 helper", "O'Brien <b>", "a/b\\c"] {
            assert_eq!(BotName::parse(raw).expect(raw).as_str(), raw);
        }
    }

    #[test]
    fn control_characters_are_refused() {
        assert!(name_error("two\nlines").contains("control"));
        assert!(name_error("bell\u{7}").contains("control"));
    }

    #[test]
    fn names_compare_ignoring_case_in_any_script() {
        let pairs = [("Scout", "sCOUT"), ("ÄRGER", "ärger"), ("ΣΟΦΙΑ", "σοφια")];
        for (a, b) in pairs {
            let a = BotName::parse(a).expect("valid");
            let b = BotName::parse(b).expect("valid");
            assert_eq!(a.key(), b.key());
        }
    }

    #[test]
    fn docker_hub_short_names_resolve_to_library() {
        let image = ImageRef::parse("busybox").expect("valid");
        assert_eq!(image.repository(), "docker.io/library/busybox");
        assert_eq!(image.tag_or_digest(), "latest");
    }

    #[test]
    fn local_registry_with_port_and_tag() {
        let image = ImageRef::parse(" 127.0.0.1:5000/berth/test:1.0 ").expect("valid");
        assert_eq!(image.as_str(), "127.0.0.1:5000/berth/test:1.0");
        assert_eq!(image.repository(), "127.0.0.1:5000/berth/test");
        assert_eq!(image.tag_or_digest(), "1.0");
    }

    #[test]
    fn digest_wins_over_tag() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let image = ImageRef::parse(&format!("alpine:3@{digest}")).expect("valid");
        assert_eq!(image.tag_or_digest(), digest);
    }

    #[test]
    fn bad_references_are_refused() {
        let bad = [
            "",
            "Ubuntu",
            "ubuntu:",
            "ubuntu latest",
            "-leading-dash",
            "a//b",
            "ubuntu@sha256:1234",
            "ubuntu:tag!",
            ":latest",
        ];
        for raw in bad {
            assert!(
                matches!(ImageRef::parse(raw), Err(Error::InvalidReference { .. })),
                "{raw:?} should be refused"
            );
        }
    }
}
