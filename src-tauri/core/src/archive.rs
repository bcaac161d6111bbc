//! Archives of a data directory: recognising them by their content and checking every entry
//! of one before anything is written from it.
//!
//! Nothing here touches the engine or the disk beyond the reader it is given, so every rule
//! is tested on archives made by hand.

use std::collections::HashSet;
use std::io::{Read, Write};

use serde::Serialize;
use tar::EntryType;

/// Where the data directory is inside the container: absolute link targets must stay in it.
const DATA_DIR: &[u8] = b"/data";

/// How an archive is stored, as its first bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Format {
    Tar,
    Gzip,
}

/// Recognises an archive from its first 512 bytes (or fewer, for a shorter file).
pub fn detect(head: &[u8]) -> Result<Format, Invalid> {
    if head.is_empty() {
        return Err(Invalid::Empty);
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Ok(Format::Gzip);
    }
    if head.len() >= 512 && (&head[257..262] == b"ustar" || tar_checksum_matches(&head[..512])) {
        return Ok(Format::Tar);
    }
    Err(Invalid::NotAnArchive)
}

/// True when a 512-byte block is a tar header by its checksum: the sum of its bytes with the
/// checksum field read as spaces. Old (pre-POSIX) archives have no `ustar` mark.
fn tar_checksum_matches(block: &[u8]) -> bool {
    let field = &block[148..156];
    let digits: String = field.iter().map(|b| *b as char).filter(|c| c.is_ascii_digit()).collect();
    let Ok(stored) = u32::from_str_radix(&digits, 8) else { return false };
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, b)| if (148..156).contains(&i) { u32::from(b' ') } else { u32::from(*b) })
        .sum();
    !digits.is_empty() && stored == sum && block.iter().any(|b| *b != 0)
}

/// The archive's tar stream: a gzip one is read across all its members, as the engine's own
/// reader would, so that nothing after the first member goes unchecked.
pub fn decoded<'a>(format: Format, reader: impl std::io::BufRead + 'a) -> Box<dyn Read + 'a> {
    match format {
        Format::Gzip => Box::new(Members::new(reader)),
        Format::Tar => Box::new(reader),
    }
}

/// Every gzip member of a file, one after the other. Zeros after the last member (the
/// padding of tape-sized blocks, which GNU gzip takes) end the stream; anything else there
/// must be another member.
struct Members<R: std::io::BufRead> {
    member: Option<flate2::bufread::GzDecoder<R>>,
}

impl<R: std::io::BufRead> Members<R> {
    fn new(reader: R) -> Self {
        Members { member: Some(flate2::bufread::GzDecoder::new(reader)) }
    }
}

impl<R: std::io::BufRead> Read for Members<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let Some(member) = self.member.as_mut() else { return Ok(0) };
            let n = member.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // The member is whole (its checksum and length were checked): what follows?
            let mut rest = self.member.take().map(flate2::bufread::GzDecoder::into_inner);
            let Some(inner) = rest.as_mut() else { return Ok(0) };
            let mut padded = false;
            loop {
                let available = inner.fill_buf()?;
                if available.is_empty() {
                    return Ok(0);
                }
                let zeros = available.iter().take_while(|b| **b == 0).count();
                if zeros == 0 && !padded {
                    break;
                }
                if zeros < available.len() {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "bytes after the padding that follows the last gzip member",
                    ));
                }
                inner.consume(zeros);
                padded = true;
            }
            self.member = rest.map(flate2::bufread::GzDecoder::new);
        }
    }
}

/// Why a file cannot be imported at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    Empty,
    NotAnArchive,
    /// Corrupt or cut short; the reader's own words.
    Damaged(String),
    /// A readable archive with no entries.
    NoEntries,
    /// Entries that would write outside the data directory or make what it must not hold.
    Refused(Vec<Refusal>),
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Invalid::Empty => f.write_str("the file is empty"),
            Invalid::NotAnArchive => f.write_str("it is not a tar or tar.gz archive"),
            Invalid::Damaged(reason) => {
                write!(f, "the archive is damaged or cut short ({})", readable(reason))
            }
            Invalid::NoEntries => f.write_str("the archive holds nothing"),
            Invalid::Refused(refusals) => {
                write!(f, "{} entries cannot be imported safely", refusals.len())
            }
        }
    }
}

/// A reader's message for people: cut where it starts quoting the bytes of a damaged header
/// (the first one that is not printable ASCII), and at 120 characters.
fn readable(reason: &str) -> String {
    let kept: String =
        reason.chars().take_while(|c| c.is_ascii() && !c.is_control()).take(120).collect();
    kept.trim_end_matches([':', ' ']).to_owned()
}

/// One entry that is refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    /// The entry's name as stored; bytes that are not UTF-8 show as `\xNN`.
    pub path: String,
    pub reason: Refused,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let reason = match self.reason {
            Refused::AbsolutePath => "an absolute path",
            Refused::ParentComponent => "a `..` component",
            Refused::SymlinkOutside => "a symbolic link that leads outside the data directory",
            Refused::HardlinkOutside => "a hard link to something outside the archive's tree",
            Refused::HardlinkToSymlink => "a hard link to a symbolic link",
            Refused::HardlinkToNothing => "a hard link to no file accepted before it",
            Refused::NameTooLong => "a name longer than the file system takes",
            Refused::UnderAFile => "it would be written below a file, not a directory",
            Refused::ReplacesAnotherKind => {
                "it would replace a directory of the data directory by a file, or a file by a \
                 directory"
            }
            Refused::NulInName => "a NUL byte in its name or link",
            Refused::HiddenContent => "content after an entry that has none",
            Refused::ThroughSymlink => "it would be written through a symbolic link",
            Refused::Special => "a device, fifo or other special file",
            Refused::ReplacesDataDirectory => "it would replace the data directory itself",
        };
        write!(f, "`{}`: {reason}", self.path)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Refused {
    AbsolutePath,
    ParentComponent,
    SymlinkOutside,
    HardlinkOutside,
    /// A hard link to a symbolic link: a second link, made where no link check looks.
    HardlinkToSymlink,
    /// A hard link to a file that neither an earlier entry nor (in a merge) the data
    /// directory holds.
    HardlinkToNothing,
    /// A name longer than a file system takes: 255 bytes, or 4,095 for the whole path.
    NameTooLong,
    /// An entry below a name that is a file, in the archive or (in a merge) the data
    /// directory.
    UnderAFile,
    /// In a merge, a file where the data directory has a directory, or the other way round.
    ReplacesAnotherKind,
    ThroughSymlink,
    /// A NUL byte inside a name or link target, where readers disagree on where it ends.
    NulInName,
    /// A directory, link or special entry declaring content, which readers read differently.
    HiddenContent,
    Special,
    ReplacesDataDirectory,
}

/// What a checked archive holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Contents {
    pub entries: u64,
    /// Bytes of file content, as the reader follows them (PAX sizes, sparse files whole).
    pub file_bytes: u64,
    /// The modification time the archive gives the data directory itself (its `./` entry):
    /// unpacking into it changes that time, so it is set again afterwards.
    pub root_mtime: Option<u64>,
}

/// Reads the whole (decompressed) archive and checks every entry, against what a merge keeps
/// of the data directory.
pub fn check(reader: impl Read, kept: &Kept) -> Result<Contents, Invalid> {
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(damaged)?;
    let mut rules = Rules::new(kept);
    let mut refusals = Vec::new();
    let mut contents = Contents::default();

    for entry in entries {
        let entry = entry.map_err(damaged)?;
        let Some(read) = Described::of(&entry) else { continue };
        contents.entries += 1;
        if read.kind.is_file() || read.kind == EntryType::GNUSparse {
            contents.file_bytes = contents.file_bytes.saturating_add(read.size);
        }
        if read.kind.is_dir() && components(&read.path).is_ok_and(|c| c.is_empty()) {
            contents.root_mtime = entry.header().mtime().ok();
        }
        if let Err(reason) = rules.judge(&read) {
            refusals.push(Refusal { path: shown(&read.path), reason });
        }
    }
    read_to_the_end(archive.into_inner())?;
    if !refusals.is_empty() {
        return Err(Invalid::Refused(refusals));
    }
    if contents.entries == 0 {
        return Err(Invalid::NoEntries);
    }
    Ok(contents)
}

/// A user and group id that imported entries are given to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u64,
    pub gid: u64,
}

/// What a merge keeps of the data directory that matters to the archive's entries, as paths
/// relative to it: its symbolic links, which nothing may be written through, its
/// directories, whose modes and owners stay theirs, and its other entries, which hard links
/// may name and nothing may be written below. Empty for a replace.
#[derive(Debug, Clone, Default)]
pub struct Kept {
    pub links: HashSet<Vec<u8>>,
    pub dirs: HashSet<Vec<u8>>,
    /// Everything else, which a hard link in the archive may name.
    pub files: HashSet<Vec<u8>>,
}

/// What a rebuild writes into.
#[derive(Debug, Clone, Copy)]
pub struct Destination<'a> {
    pub kept: &'a Kept,
    /// The container's user, when it is not root: every entry is given to it, and so are the
    /// directories the archive implies but neither lists nor keeps (`sub` for a lone
    /// `sub/file`), which the engine would otherwise make root's.
    pub owner: Option<Owner>,
}

/// Writes to `out`, as a plain tar, each entry of the archive anew from what this reader made
/// of it, judging each by the rules of [`check`] again on the way. The engine then unpacks
/// exactly what was checked: where its own reader would read the original bytes otherwise
/// (a second gzip member, a name cut at a NUL, a repeated PAX record, a file changed since
/// the check), it never sees them.
///
/// Stops at the first refused or damaged entry, and then writes nothing more, not even the
/// end of the archive. A failure to write to `out` is the outer error (the reader of `out`
/// stopped, and says why); everything else is the inner one.
pub fn rebuild(
    reader: impl Read,
    into: Destination<'_>,
    out: impl Write,
) -> std::io::Result<Result<(), Invalid>> {
    let mut archive = tar::Archive::new(reader);
    let stopped = std::cell::Cell::new(false);
    let mut out = Watched { inner: out, failed: None, stopped: &stopped };
    let mut rules = Rules::new(into.kept);
    let mut dirs = Seen::over(&into.kept.dirs);
    let mut builder = tar::Builder::new(&mut out);
    let result = (|| {
        for entry in archive.entries().map_err(damaged)? {
            let mut entry = entry.map_err(damaged)?;
            let Some(read) = Described::of(&entry) else { continue };
            if let Err(reason) = rules.judge(&read) {
                return Err(Invalid::Refused(vec![Refusal { path: shown(&read.path), reason }]));
            }
            let Described { kind, path, link, .. } = read;
            let parts = components(&path).unwrap_or_default();
            if let Some(owner) = into.owner {
                let mtime = entry.header().mtime().unwrap_or(0);
                write_implied_dirs(&mut builder, &parts, (owner, mtime), &mut dirs)
                    .map_err(damaged)?;
            }
            if kind.is_dir() {
                dirs.insert(parts.join(&b'/'));
            }
            write_anew(&mut builder, &mut entry, (&parts, link.as_deref()), into.owner)
                .map_err(damaged)?;
        }
        read_to_the_end(archive.into_inner())?;
        builder.finish().map_err(damaged)
    })();
    // Dropping the builder after a refusal would write the end-of-archive blocks: the engine
    // would stop reading there, its unpack a success, before it reached the body's error.
    stopped.set(result.is_err());
    drop(builder);
    match out.failed.take() {
        Some(error) => Err(error),
        None => Ok(result),
    }
}

/// Writes one checked entry: its type, mode, owner, time, name and link, and a file's
/// content. A sparse file is written whole, as a regular one. Names are written as the
/// tar crate writes paths: without `.` and repeated `/`.
fn write_anew<R: Read, W: Write>(
    builder: &mut tar::Builder<W>,
    entry: &mut tar::Entry<'_, R>,
    (parts, link): (&[&[u8]], Option<&[u8]>),
    owner: Option<Owner>,
) -> std::io::Result<()> {
    let old = entry.header();
    let kind = match old.entry_type() {
        EntryType::GNUSparse => EntryType::Regular,
        kind => kind,
    };
    // An empty numeric field reads as 0, as the engine's own reader takes it.
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(old.mode().unwrap_or(0));
    let (uid, gid) = match owner {
        Some(owner) => (owner.uid, owner.gid),
        None => (old.uid().unwrap_or(0), old.gid().unwrap_or(0)),
    };
    header.set_uid(uid);
    header.set_gid(gid);
    header.set_mtime(old.mtime().unwrap_or(0));

    // The data directory's own entry carries its mode and time; its name is `./`.
    let name = if parts.is_empty() { b"./".to_vec() } else { parts.join(&b'/') };
    let name = path_of(&name);
    match link {
        Some(target) if kind.is_symlink() || kind.is_hard_link() => {
            header.set_size(0);
            builder.append_link(&mut header, name, path_of(target))
        }
        _ if kind.is_file() => {
            header.set_size(entry.size());
            builder.append_data(&mut header, name, entry)
        }
        _ => {
            header.set_size(0);
            builder.append_data(&mut header, name, std::io::empty())
        }
    }
}

/// Writes, owned by `owner`, each directory above the entry at `parts` that neither the
/// archive has listed yet nor the data directory keeps.
fn write_implied_dirs<W: Write>(
    builder: &mut tar::Builder<W>,
    parts: &[&[u8]],
    (owner, mtime): (Owner, u64),
    dirs: &mut Seen<'_>,
) -> std::io::Result<()> {
    for depth in 1..parts.len() {
        let dir = parts[..depth].join(&b'/');
        if dirs.contains(&dir) {
            continue;
        }
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(EntryType::Directory);
        header.set_mode(0o755);
        header.set_mtime(mtime);
        header.set_size(0);
        header.set_uid(owner.uid);
        header.set_gid(owner.gid);
        builder.append_data(&mut header, path_of(&dir), std::io::empty())?;
        dirs.insert(dir);
    }
    Ok(())
}

fn path_of(bytes: &[u8]) -> &std::path::Path {
    use std::os::unix::ffi::OsStrExt;
    std::path::Path::new(std::ffi::OsStr::from_bytes(bytes))
}

/// A writer that remembers its first failure, to tell it from the reader's, and that takes
/// nothing more once `stopped`.
struct Watched<'a, W> {
    inner: W,
    failed: Option<std::io::Error>,
    stopped: &'a std::cell::Cell<bool>,
}

impl<W: Write> Write for Watched<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.stopped.get() {
            return Err(std::io::Error::other("the rebuild stopped"));
        }
        self.inner.write(buf).inspect_err(|e| self.note(e))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.stopped.get() {
            return Ok(());
        }
        self.inner.flush().inspect_err(|e| self.note(e))
    }
}

impl<W> Watched<'_, W> {
    fn note(&mut self, error: &std::io::Error) {
        if self.failed.is_none() {
            self.failed = Some(std::io::Error::new(error.kind(), error.to_string()));
        }
    }
}

/// Reads what follows the archive's end, so that gzip checks its checksum and length: the
/// tar reader stops at the end-of-archive blocks, and a file damaged or cut short after them
/// would pass otherwise.
fn read_to_the_end(mut rest: impl Read) -> Result<(), Invalid> {
    std::io::copy(&mut rest, &mut std::io::sink()).map(|_| ()).map_err(damaged)
}

fn damaged(error: std::io::Error) -> Invalid {
    Invalid::Damaged(error.to_string())
}

/// The rules every entry is judged by, with the symbolic links and the files seen so far:
/// those a merge keeps, then the archive's own.
struct Rules<'k> {
    kept: &'k Kept,
    links: Seen<'k>,
    files: Seen<'k>,
}

impl<'k> Rules<'k> {
    fn new(kept: &'k Kept) -> Rules<'k> {
        Rules { kept, links: Seen::over(&kept.links), files: Seen::over(&kept.files) }
    }

    fn judge(&mut self, entry: &Described) -> Result<(), Refused> {
        let Described { kind, ref path, ref link, size } = *entry;
        check_entry(kind, path, link.as_deref(), &self.links)?;
        // Readers differ on what follows such a header: some take it as the entry's content,
        // others as the next entries.
        let has_content = kind.is_file() || kind == EntryType::GNUSparse;
        if size > 0 && !has_content {
            return Err(Refused::HiddenContent);
        }
        if kind.is_hard_link()
            && !self.files.contains(&relative_name(link.as_deref().unwrap_or(b"")))
        {
            return Err(Refused::HardlinkToNothing);
        }
        // In a merge, a directory the data directory holds must not become a file (its whole
        // content would go), nor a file it holds a directory.
        let parts = components(path).unwrap_or_default();
        let name = parts.join(&b'/');
        let was_dir = self.kept.dirs.contains(&name) && !name.is_empty();
        if (was_dir && !kind.is_dir()) || (self.kept.files.contains(&name) && kind.is_dir()) {
            return Err(Refused::ReplacesAnotherKind);
        }
        // A file where the entry needs a directory: the engine would fail, or (given the
        // directory the entry implies) replace a file a merge keeps.
        if (1..parts.len()).any(|depth| self.files.contains(&parts[..depth].join(&b'/'))) {
            return Err(Refused::UnderAFile);
        }
        if kind.is_symlink() {
            self.links.insert(name);
        } else if kind.is_dir() {
            // A directory entry replaces a file of its name.
            self.files.remove(name);
        } else {
            self.files.insert(name);
        }
        Ok(())
    }
}

/// Names seen so far: those a merge keeps (borrowed, however many) and the archive's own.
struct Seen<'k> {
    kept: &'k HashSet<Vec<u8>>,
    added: HashSet<Vec<u8>>,
    removed: HashSet<Vec<u8>>,
}

impl<'k> Seen<'k> {
    fn over(kept: &'k HashSet<Vec<u8>>) -> Seen<'k> {
        Seen { kept, added: HashSet::new(), removed: HashSet::new() }
    }

    fn contains(&self, name: &[u8]) -> bool {
        self.added.contains(name) || (self.kept.contains(name) && !self.removed.contains(name))
    }

    fn insert(&mut self, name: Vec<u8>) {
        self.removed.remove(&name);
        self.added.insert(name);
    }

    fn remove(&mut self, name: Vec<u8>) {
        self.added.remove(&name);
        self.removed.insert(name);
    }
}

/// An entry's name relative to the data directory as this reader and the rules take it:
/// without `.` and empty names, so that `./a/` and `a` are one.
pub fn relative_name(path: &[u8]) -> Vec<u8> {
    let names: Vec<&[u8]> =
        path.split(|b| *b == b'/').filter(|n| !n.is_empty() && *n != b".").collect();
    names.join(&b'/')
}

/// What the rules judge of an entry, as this reader read it.
struct Described {
    kind: EntryType,
    path: Vec<u8>,
    link: Option<Vec<u8>>,
    /// The size this reader follows: a PAX record's, a sparse file's whole.
    size: u64,
}

impl Described {
    /// None for a PAX global header, which describes no entry of its own.
    fn of<R: Read>(entry: &tar::Entry<'_, R>) -> Option<Described> {
        let kind = entry.header().entry_type();
        (kind != EntryType::XGlobalHeader).then(|| Described {
            kind,
            path: entry.path_bytes().into_owned(),
            link: entry.link_name_bytes().map(|l| l.into_owned()),
            size: entry.size(),
        })
    }
}

fn check_entry(
    kind: EntryType,
    path: &[u8],
    link: Option<&[u8]>,
    links: &Seen<'_>,
) -> Result<(), Refused> {
    // Readers differ on a NUL inside a name (some cut it there): no name may hold one.
    if path.contains(&0) || link.is_some_and(|l| l.contains(&0)) {
        return Err(Refused::NulInName);
    }
    let parts = components(path)?;
    let allowed = kind.is_file()
        || kind.is_dir()
        || kind.is_symlink()
        || kind.is_hard_link()
        || kind == EntryType::GNUSparse;
    if !allowed {
        return Err(Refused::Special);
    }
    if parts.is_empty() && !kind.is_dir() {
        return Err(Refused::ReplacesDataDirectory);
    }
    // Under `/data/`, whose six bytes count towards the 4,095 of a whole path.
    let whole = parts.iter().map(|p| p.len() + 1).sum::<usize>() + "/data".len();
    let too_long =
        parts.iter().any(|p| p.len() > 255) || whole > 4095 || link.is_some_and(|l| l.len() > 4095);
    if too_long {
        return Err(Refused::NameTooLong);
    }
    if through_link(&parts, links) {
        return Err(Refused::ThroughSymlink);
    }
    if kind.is_symlink() && !link_stays_inside(parts.len() - 1, link.unwrap_or_default()) {
        return Err(Refused::SymlinkOutside);
    }
    if kind.is_hard_link() {
        let target = components(link.unwrap_or_default()).map_err(|_| Refused::HardlinkOutside)?;
        if target.is_empty() {
            return Err(Refused::HardlinkOutside);
        }
        if through_link(&target, links) {
            return Err(Refused::ThroughSymlink);
        }
        // A hard link to a symbolic link is a second symbolic link, made where no check of
        // links looked.
        if links.contains(&target.join(&b'/')) {
            return Err(Refused::HardlinkToSymlink);
        }
    }
    Ok(())
}

/// The path's names, without `.` and empty ones; absolute paths and `..` are refused.
fn components(path: &[u8]) -> Result<Vec<&[u8]>, Refused> {
    if path.starts_with(b"/") {
        return Err(Refused::AbsolutePath);
    }
    let mut names = Vec::new();
    for name in path.split(|b| *b == b'/') {
        match name {
            b"" | b"." => {}
            b".." => return Err(Refused::ParentComponent),
            name => names.push(name),
        }
    }
    Ok(names)
}

/// True when a proper prefix of the path is a symbolic link.
fn through_link(parts: &[&[u8]], links: &Seen<'_>) -> bool {
    (1..parts.len()).any(|n| links.contains(&parts[..n].join(&b'/')))
}

/// Whether a link at depth `depth` (0 for the data directory's own entries) pointing at
/// `target` stays inside the data directory. Relative targets may climb with leading `..`
/// no higher than the data directory and then only descend: a `..` after a name could climb
/// out through another link (`a -> .`, `b -> a/..`). Absolute targets must lie under `/data`
/// without any `..`.
fn link_stays_inside(depth: usize, target: &[u8]) -> bool {
    if let Some(rest) = target.strip_prefix(DATA_DIR) {
        let inside = rest.is_empty() || rest.starts_with(b"/");
        return inside && !rest.split(|b| *b == b'/').any(|n| n == b"..");
    }
    if target.starts_with(b"/") {
        return false;
    }
    let mut climbs = 0;
    let mut named = false;
    for name in target.split(|b| *b == b'/') {
        match name {
            b"" | b"." => {}
            b".." if named => return false,
            b".." => climbs += 1,
            _ => named = true,
        }
    }
    climbs <= depth
}

/// A name for people: UTF-8 as it is, other bytes as `\xNN`; a name of thousands of bytes
/// keeps its start and end around `…`, so that a list of them still reads.
fn shown(path: &[u8]) -> String {
    const KEPT: usize = 80;
    let all: String = path
        .utf8_chunks()
        .flat_map(|chunk| {
            let invalid = chunk.invalid().iter().map(|b| format!("\\x{b:02x}"));
            std::iter::once(chunk.valid().to_owned()).chain(invalid)
        })
        .collect();
    let chars: Vec<char> = all.chars().collect();
    if chars.len() <= 2 * KEPT + 1 {
        return all;
    }
    let (start, end) = (&chars[..KEPT], &chars[chars.len() - KEPT..]);
    format!("{}…{}", start.iter().collect::<String>(), end.iter().collect::<String>())
}

/// The free bytes unpacking the archive needs: its content and a margin for the file
/// system's own blocks (one 4 KiB block per entry, and 1 % of the content). None when that
/// is more than a number of bytes can hold, as a hostile archive may declare.
pub fn room_needed(contents: Contents) -> Option<u64> {
    let blocks = contents.entries.checked_mul(4096)?;
    blocks.checked_add(contents.file_bytes / 100)?.checked_add(contents.file_bytes)
}

/// Whether a volume with `available` free bytes can take the archive's content.
pub fn fits(contents: Contents, available: u64) -> bool {
    room_needed(contents).is_some_and(|needed| needed <= available)
}

#[cfg(test)]
mod tests;
