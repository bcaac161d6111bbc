//! One test per kind of hostile entry, each on an archive made by hand.

use std::io::Write;

use super::*;

/// An entry to put in a hand-made archive: its raw name, type, link target and content.
struct Entry<'a> {
    name: &'a [u8],
    kind: EntryType,
    link: &'a [u8],
    data: &'a [u8],
}

fn file<'a>(name: &'a [u8], data: &'a [u8]) -> Entry<'a> {
    Entry { name, kind: EntryType::Regular, link: b"", data }
}

fn dir(name: &[u8]) -> Entry<'_> {
    Entry { name, kind: EntryType::Directory, link: b"", data: b"" }
}

fn symlink<'a>(name: &'a [u8], target: &'a [u8]) -> Entry<'a> {
    Entry { name, kind: EntryType::Symlink, link: target, data: b"" }
}

fn hardlink<'a>(name: &'a [u8], target: &'a [u8]) -> Entry<'a> {
    Entry { name, kind: EntryType::Link, link: target, data: b"" }
}

fn special(name: &[u8], kind: EntryType) -> Entry<'_> {
    Entry { name, kind, link: b"", data: b"" }
}

/// Writes the entries with their names as given, byte for byte: the tar crate's own
/// builder would refuse the hostile ones.
fn archive(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(entry.kind);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        header.set_size(entry.data.len() as u64);
        let raw = header.as_old_mut();
        raw.name[..entry.name.len()].copy_from_slice(entry.name);
        raw.linkname[..entry.link.len()].copy_from_slice(entry.link);
        header.set_cksum();
        builder.append(&header, entry.data).expect("appends");
    }
    builder.into_inner().expect("finishes")
}

fn refused(entries: &[Entry<'_>]) -> Vec<(String, Refused)> {
    match check(&archive(entries)[..], &HashSet::new()) {
        Err(Invalid::Refused(list)) => list.into_iter().map(|r| (r.path, r.reason)).collect(),
        other => panic!("expected refusals, got {other:?}"),
    }
}

fn accepted(entries: &[Entry<'_>]) -> Contents {
    check(&archive(entries)[..], &HashSet::new()).expect("accepted")
}

#[test]
fn absolute_paths_are_refused() {
    let got = refused(&[file(b"ok.txt", b"x"), file(b"/etc/cron.d/evil", b"x")]);
    assert_eq!(got, [("/etc/cron.d/evil".to_owned(), Refused::AbsolutePath)]);
}

#[test]
fn parent_components_are_refused() {
    let got = refused(&[file(b"a/../../escape", b"x"), file(b"..", b"x")]);
    assert_eq!(
        got,
        [
            ("a/../../escape".to_owned(), Refused::ParentComponent),
            ("..".to_owned(), Refused::ParentComponent)
        ]
    );
}

#[test]
fn symlinks_pointing_outside_are_refused() {
    let got = refused(&[
        symlink(b"abs", b"/etc/passwd"),
        symlink(b"up", b"../outside"),
        symlink(b"sub/up2", b"../../outside"),
        symlink(b"data-lookalike", b"/database"),
        symlink(b"climb-through", b"a/../.."),
    ]);
    let reasons: Vec<_> = got.iter().map(|(_, r)| *r).collect();
    assert_eq!(reasons, [Refused::SymlinkOutside; 5], "{got:?}");
}

#[test]
fn symlinks_inside_are_kept() {
    let contents = accepted(&[
        dir(b"sub"),
        symlink(b"sub/to-root-file", b"../file"),
        symlink(b"abs-inside", b"/data/file"),
        symlink(b"plain", b"file"),
        file(b"file", b"hello"),
    ]);
    assert_eq!(contents, Contents { entries: 5, file_bytes: 5, root_mtime: None });
}

#[test]
fn hardlinks_pointing_outside_are_refused() {
    let got = refused(&[
        file(b"inside", b"x"),
        hardlink(b"h1", b"/etc/shadow"),
        hardlink(b"h2", b"../outside"),
        hardlink(b"h3", b"inside"),
    ]);
    let names: Vec<_> = got.iter().map(|(p, r)| (p.as_str(), *r)).collect();
    assert_eq!(names, [("h1", Refused::HardlinkOutside), ("h2", Refused::HardlinkOutside)]);
}

#[test]
fn entries_written_through_a_symlink_are_refused() {
    let got = refused(&[dir(b"real"), symlink(b"link", b"real"), file(b"link/file", b"x")]);
    assert_eq!(got, [("link/file".to_owned(), Refused::ThroughSymlink)]);
}

#[test]
fn entries_written_through_an_existing_symlink_are_refused() {
    let existing = HashSet::from([b"docs".to_vec()]);
    let bytes = archive(&[file(b"./docs/readme", b"x")]);
    let Err(Invalid::Refused(list)) = check(&bytes[..], &existing) else { panic!("accepted") };
    assert_eq!(list[0].reason, Refused::ThroughSymlink);
}

#[test]
fn devices_fifos_and_other_special_entries_are_refused() {
    let got = refused(&[
        special(b"null", EntryType::Char),
        special(b"disk", EntryType::Block),
        special(b"pipe", EntryType::Fifo),
        special(b"odd", EntryType::new(b'Z')),
    ]);
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|(_, r)| *r == Refused::Special));
}

#[test]
fn the_data_directory_entry_gives_its_time() {
    let mut root = dir(b"./");
    root.kind = EntryType::Directory;
    let contents = accepted(&[root, file(b"./f", b"x")]);
    assert_eq!(contents.root_mtime, Some(1_700_000_000));
}

#[test]
fn an_entry_replacing_the_data_directory_is_refused() {
    let got = refused(&[symlink(b"./", b"/etc")]);
    assert_eq!(got, [("./".to_owned(), Refused::ReplacesDataDirectory)]);
}

#[test]
fn every_refusal_is_listed_not_just_the_first() {
    let got = refused(&[file(b"/a", b""), file(b"/b", b""), file(b"fine", b"")]);
    assert_eq!(got.len(), 2);
}

#[test]
fn names_that_are_not_utf8_are_shown_escaped() {
    let got = refused(&[file(b"/caf\xe9", b"")]);
    assert_eq!(got[0].0, "/caf\\xe9");
}

#[test]
fn corrupt_truncated_and_empty_files_are_invalid() {
    let whole = archive(&[file(b"big", &[7; 5000])]);
    assert!(matches!(check(&whole[..1024], &HashSet::new()), Err(Invalid::Damaged(_))));
    let mut corrupt = whole.clone();
    corrupt[148] = b'x';
    assert!(matches!(check(&corrupt[..], &HashSet::new()), Err(Invalid::Damaged(_))));
    assert_eq!(check(&[0u8; 1024][..], &HashSet::new()), Err(Invalid::NoEntries));
    assert_eq!(detect(b""), Err(Invalid::Empty));
}

#[test]
fn format_is_detected_from_content() {
    let tar = archive(&[file(b"a", b"x")]);
    assert_eq!(detect(&tar[..512]), Ok(Format::Tar));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).expect("compresses");
    let gz = gz.finish().expect("finishes");
    assert_eq!(detect(&gz[..gz.len().min(512)]), Ok(Format::Gzip));
    assert_eq!(detect(b"PK\x03\x04 a zip file"), Err(Invalid::NotAnArchive));
    assert_eq!(detect(&[b'x'; 600]), Err(Invalid::NotAnArchive));
    // A pre-POSIX header has no `ustar` mark, only its checksum.
    let mut old = tar.clone();
    old[257..265].fill(0);
    let mut header = tar::Header::from_byte_slice(&old[..512]).clone();
    header.set_cksum();
    old[..512].copy_from_slice(header.as_bytes());
    assert_eq!(detect(&old[..512]), Ok(Format::Tar));
}

#[test]
fn read_only_directories_and_long_names_are_accepted() {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(EntryType::Directory);
    header.set_mode(0o555);
    header.set_size(0);
    builder.append_data(&mut header, "locked", &[][..]).expect("dir");
    let long = format!("locked/{}/ünïcödé-{}", "d".repeat(120), "n".repeat(150));
    let mut header = tar::Header::new_gnu();
    header.set_size(3);
    header.set_mode(0o444);
    builder.append_data(&mut header, &long, &b"abc"[..]).expect("long name");
    let bytes = builder.into_inner().expect("finishes");
    assert_eq!(
        check(&bytes[..], &HashSet::new()),
        Ok(Contents { entries: 2, file_bytes: 3, root_mtime: None })
    );
}

/// A reader that yields an archive with one file of `size` bytes without holding it.
struct Huge {
    header: Vec<u8>,
    size: u64,
    at: u64,
}

impl Read for Huge {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let header_len = self.header.len() as u64;
        // Header, content padded to 512, then two zero blocks.
        let total = header_len + self.size.div_ceil(512) * 512 + 1024;
        if self.at >= total {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(total - self.at) as usize;
        if self.at < header_len {
            let n = n.min((header_len - self.at) as usize);
            buf[..n].copy_from_slice(&self.header[self.at as usize..self.at as usize + n]);
            self.at += n as u64;
            return Ok(n);
        }
        // Content that would never pass as a header, should a block of it be read as one.
        let content_end = header_len + self.size;
        let split = content_end.saturating_sub(self.at).min(n as u64) as usize;
        buf[..split].fill(b'U');
        buf[split..n].fill(0);
        self.at += n as u64;
        Ok(n)
    }
}

#[test]
fn files_over_8_gib_stream_through_the_check() {
    let size = 9 * 1024 * 1024 * 1024 + 7;
    let mut header = tar::Header::new_gnu();
    header.set_path("huge.bin").expect("name");
    header.set_size(size); // Beyond the 8 GiB of octal digits: GNU base-256.
    header.set_mode(0o644);
    header.set_cksum();
    let reader = Huge { header: header.as_bytes().to_vec(), size, at: 0 };
    let contents = check(reader, &HashSet::new()).expect("accepted");
    assert_eq!(contents, Contents { entries: 1, file_bytes: size, root_mtime: None });
}

#[test]
fn free_space_keeps_a_margin() {
    let contents = Contents { entries: 10, file_bytes: 1_000_000, root_mtime: None };
    let needed = 1_000_000 + 10 * 4096 + 10_000;
    assert!(fits(contents, needed));
    assert!(!fits(contents, needed - 1));
    assert!(fits(Contents::default(), 0));
    assert!(
        !fits(Contents { file_bytes: u64::MAX, ..Contents::default() }, u64::MAX),
        "no overflow"
    );
}

#[test]
fn a_damaged_header_is_described_without_its_bytes() {
    let reason =
        "numeric field did not have utf-8 text: \u{8b}\u{fffd}c\u{fffd} when getting cksum";
    let shown = Invalid::Damaged(reason.to_owned()).to_string();
    assert_eq!(
        shown,
        "the archive is damaged or cut short (numeric field did not have utf-8 text)"
    );
}
