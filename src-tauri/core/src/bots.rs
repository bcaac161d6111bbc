//! Bots and the rules their fields follow: names people choose and images they name.

use oci_spec::distribution::{ParseError, Reference};
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

use crate::error::{Error, Result};

/// The longest bot name, in characters (grapheme clusters).
pub const NAME_MAX_CHARS: usize = 64;

/// The most code points a name may hold, whatever its characters.
const NAME_MAX_CODE_POINTS: usize = 1024;

/// A named record owned by Berth; at most one container belongs to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bot {
    pub id: String,
    pub name: String,
    pub image: String,
    pub created_at: i64,
    /// The volume holding the data directory, when a restore gave the bot another one than
    /// its first; see [`Bot::data_volume`].
    #[serde(skip)]
    pub restored_volume: Option<String>,
}

impl Bot {
    /// The engine volume that holds the bot's data directory.
    pub fn data_volume(&self) -> String {
        self.restored_volume
            .clone()
            .unwrap_or_else(|| crate::engine::containers::volume_name(&self.id))
    }
}

/// A name that passed the rules for names people choose (bots and snapshots): trimmed, in
/// Unicode's composed form (NFC), 1 to 64 characters as people count them (grapheme clusters),
/// with something visible, and without control or text-direction characters that would make
/// it look like another name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    display: String,
    key: String,
}

/// A bot's name.
pub type BotName = Name;

impl Name {
    /// Parses a bot name.
    pub fn parse(raw: &str) -> Result<Name> {
        Name::parse_for("bot", raw)
    }

    /// Parses the name of a snapshot.
    pub fn parse_snapshot(raw: &str) -> Result<Name> {
        Name::parse_for("snapshot", raw)
    }

    /// Parses a name of a `what`, which refusals name.
    fn parse_for(what: &'static str, raw: &str) -> Result<Name> {
        let display: String = raw.trim().nfc().collect();
        let invalid = |reason: &str| Error::InvalidName { what, reason: reason.to_owned() };

        if display.is_empty() {
            return Err(invalid("a name is required"));
        }
        // Graphemes as people count them; code points too, or one letter with thousands of
        // combining marks would pass as a single character.
        let too_long = display.chars().count() > NAME_MAX_CODE_POINTS;
        if too_long || display.graphemes(true).count() > NAME_MAX_CHARS {
            return Err(invalid("a name has at most 64 characters"));
        }
        if display.chars().any(|c| c.is_control() || is_separator_or_direction(c)) {
            return Err(invalid(
                "a name cannot hold control characters, line breaks or text-direction marks",
            ));
        }

        let key = comparison_key(&display);
        if key.chars().all(char::is_whitespace) {
            return Err(invalid("a name needs at least one visible character"));
        }
        Ok(Name { display, key })
    }

    /// The name as the user wrote it, trimmed.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The form two names are compared in: equal keys mean the same name to a reader.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// Compatibility-normalised (NFKC), fully case-folded (`ß` and `SS` alike), without the
/// invisible characters that would let two names differ only in what nobody can see.
fn comparison_key(name: &str) -> String {
    let visible: String = name.nfkc().filter(|c| !is_default_ignorable(*c)).collect();
    // Folding can undo normalisation (`ΐ` folds to a decomposed sequence): normalise again.
    caseless::default_case_fold_str(&visible).nfkc().collect()
}

/// Line and paragraph separators, and the marks that reorder text (`abc\u{202E}gnp.exe` shows
/// as `abcexe.png`).
fn is_separator_or_direction(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{061C}' | '\u{200E}' | '\u{200F}')
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt, Unicode 15): characters
/// that render as nothing, such as zero-width spaces and soft hyphens.
fn is_default_ignorable(c: char) -> bool {
    const RANGES: &[(char, char)] = &[
        ('\u{00AD}', '\u{00AD}'),
        ('\u{034F}', '\u{034F}'),
        ('\u{061C}', '\u{061C}'),
        ('\u{115F}', '\u{1160}'),
        ('\u{17B4}', '\u{17B5}'),
        ('\u{180B}', '\u{180F}'),
        ('\u{200B}', '\u{200F}'),
        ('\u{202A}', '\u{202E}'),
        ('\u{2060}', '\u{206F}'),
        ('\u{3164}', '\u{3164}'),
        ('\u{FE00}', '\u{FE0F}'),
        ('\u{FEFF}', '\u{FEFF}'),
        ('\u{FFA0}', '\u{FFA0}'),
        ('\u{FFF0}', '\u{FFF8}'),
        ('\u{1BCA0}', '\u{1BCA3}'),
        ('\u{1D173}', '\u{1D17A}'),
        ('\u{E0000}', '\u{E0FFF}'),
    ];
    RANGES.iter().any(|(low, high)| (*low..=*high).contains(&c))
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
        let invalid = |reason: &str| Error::InvalidReference {
            reference: written.to_owned(),
            reason: if written.is_empty() {
                reason.to_owned()
            } else {
                format!("`{written}` is not a valid image reference: {reason}")
            },
        };

        if written.is_empty() {
            return Err(invalid("an image reference is required"));
        }
        if written.chars().any(char::is_whitespace) {
            return Err(invalid("it cannot hold spaces"));
        }
        let parsed = Reference::try_from(written).map_err(|e| invalid(&explain(written, &e)))?;
        if let Some(reason) = refused_by_the_engine(written, &parsed) {
            return Err(invalid(reason));
        }

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

/// What the engine refuses of a reference that the grammar lets through: a first component
/// with capitals (the grammar takes it for a registry host, the engine for a repository), a
/// registry port out of range, a digest in capital hexadecimal digits.
fn refused_by_the_engine(written: &str, parsed: &Reference) -> Option<&'static str> {
    if let Some((first, _)) = written.split_once('/') {
        let repository = !first.contains(['.', ':']) && first != "localhost";
        if repository && first.chars().any(char::is_uppercase) {
            return Some("repository names are lowercase");
        }
        let port = first.rsplit_once(':').map(|(_, port)| port);
        if port.is_some_and(|p| p.parse::<u16>().map_or(true, |p| p == 0)) {
            return Some("a registry's port is a number from 1 to 65535");
        }
    }
    let hex = parsed.digest().and_then(|d| d.split_once(':')).map(|(_, hex)| hex);
    if hex.is_some_and(|h| h.chars().any(|c| c.is_ascii_uppercase())) {
        return Some("a digest is `sha256:` followed by 64 lowercase hexadecimal digits");
    }
    None
}

/// Says what is wrong with a reference in the words of someone writing one.
fn explain(written: &str, error: &ParseError) -> String {
    let name = written.split(['@', ':']).next().unwrap_or(written);
    let path = name.split_once('/').map_or(name, |(first, rest)| {
        if first.contains(['.', ':']) || first == "localhost" {
            rest
        } else {
            name
        }
    });
    match error {
        ParseError::DigestInvalidFormat
        | ParseError::DigestInvalidLength
        | ParseError::DigestUnsupported => {
            "a digest is `sha256:` followed by 64 hexadecimal digits".into()
        }
        ParseError::NameTooLong => "the name has more than 255 characters".into(),
        ParseError::NameContainsUppercase => "repository names are lowercase".into(),
        ParseError::TagInvalidFormat => {
            "a tag has up to 128 letters, digits, `_`, `.` and `-`".into()
        }
        _ if path.chars().any(char::is_uppercase) => "repository names are lowercase".into(),
        _ if written.ends_with(':') || written.ends_with('@') => {
            "something must follow the last `:` or `@`".into()
        }
        _ if written.contains('@') => {
            "a digest is `sha256:` followed by 64 hexadecimal digits".into()
        }
        _ => "it does not read as `[registry/]name[:tag][@digest]`".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_error(raw: &str) -> String {
        match BotName::parse(raw) {
            Err(Error::InvalidName { reason, .. }) => reason,
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
        assert!(name_error("line\u{2028}separator").contains("line breaks"));
    }

    #[test]
    fn direction_marks_that_disguise_a_name_are_refused() {
        assert!(name_error("abc\u{202E}gnp.exe").contains("text-direction"));
        assert!(name_error("\u{2067}scout").contains("text-direction"));
    }

    #[test]
    fn invisible_only_names_are_refused() {
        assert!(name_error("\u{200B}").contains("visible"));
        assert!(name_error("\u{00AD}\u{FEFF}").contains("visible"));
    }

    #[test]
    fn names_that_look_alike_share_a_key() {
        let key = |raw: &str| BotName::parse(raw).expect(raw).key().to_owned();
        assert_eq!(key("Scout\u{200B}"), key("Scout"), "zero-width space");
        assert_eq!(key("Sco\u{00AD}ut"), key("Scout"), "soft hyphen");
        assert_eq!(key("A\u{0308}rger"), key("Ärger"), "decomposed umlaut");
        assert_eq!(key("Straße"), key("STRASSE"), "full case folding");
        assert_eq!(key("ｓｃｏｕｔ"), key("scout"), "full-width letters");
        assert_eq!(key("\u{0390}"), key("\u{03AA}\u{0301}"), "folding then normalising");
    }

    #[test]
    fn names_are_stored_composed() {
        assert_eq!(BotName::parse("A\u{0308}rger").expect("valid").as_str(), "Ärger");
    }

    #[test]
    fn length_counts_what_people_see_as_characters() {
        let family = "👨\u{200D}👩\u{200D}👧";
        assert!(BotName::parse(&family.repeat(64)).is_ok(), "64 family emoji fit");
        assert!(name_error(&family.repeat(65)).contains("64"));
        let stacked = format!("a{}", "\u{0301}".repeat(2000));
        assert!(name_error(&stacked).contains("64"), "one grapheme, two thousand code points");
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

    fn reference_error(raw: &str) -> String {
        match ImageRef::parse(raw) {
            Err(e @ Error::InvalidReference { .. }) => e.to_string(),
            other => panic!("expected an invalid reference for {raw:?}, got {other:?}"),
        }
    }

    #[test]
    fn reference_errors_say_what_to_change() {
        assert_eq!(reference_error("  "), "an image reference is required");
        assert_eq!(
            reference_error("Ubuntu"),
            "`Ubuntu` is not a valid image reference: repository names are lowercase"
        );
        assert!(reference_error("ubuntu:").contains("must follow the last `:`"));
        assert!(reference_error("ubuntu@sha256:123").contains("64 hexadecimal digits"));
        assert!(reference_error("ubuntu latest").contains("cannot hold spaces"));
        assert!(reference_error(&"a".repeat(300)).contains("255"));
    }

    #[test]
    fn references_the_engine_would_refuse_are_refused_first() {
        assert!(reference_error("UPPER/case").contains("repository names are lowercase"));
        let capitals = format!("busybox@sha256:{}", "A".repeat(64));
        assert!(reference_error(&capitals).contains("64 lowercase hexadecimal digits"));
        for port in ["127.0.0.1:99999/x", "localhost:0/x"] {
            assert!(reference_error(port).contains("from 1 to 65535"), "{port}");
        }
        assert!(ImageRef::parse("127.0.0.1:5000/berth-test/busybox:latest").is_ok());
        assert!(ImageRef::parse(&format!("busybox@sha256:{}", "a".repeat(64))).is_ok());
    }

    #[test]
    fn registry_host_may_have_capitals() {
        assert!(ImageRef::parse("Registry.Example:5000/team/bot:1").is_ok());
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
