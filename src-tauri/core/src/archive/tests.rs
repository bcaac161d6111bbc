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
    match check(&archive(entries)[..], &Kept::default()) {
        Err(Invalid::Refused(list)) => list.into_iter().map(|r| (r.path, r.reason)).collect(),
        other => panic!("expected refusals, got {other:?}"),
    }
}

fn accepted(entries: &[Entry<'_>]) -> Contents {
    check(&archive(entries)[..], &Kept::default()).expect("accepted")
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
    let existing = Kept { links: HashSet::from([b"docs".to_vec()]), ..Kept::default() };
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
    assert!(matches!(check(&whole[..1024], &Kept::default()), Err(Invalid::Damaged(_))));
    let mut corrupt = whole.clone();
    corrupt[148] = b'x';
    assert!(matches!(check(&corrupt[..], &Kept::default()), Err(Invalid::Damaged(_))));
    assert_eq!(check(&[0u8; 1024][..], &Kept::default()), Err(Invalid::NoEntries));
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
        check(&bytes[..], &Kept::default()),
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
    let contents = check(reader, &Kept::default()).expect("accepted");
    assert_eq!(contents, Contents { entries: 1, file_bytes: size, root_mtime: None });
}

/// An entry whose size only a PAX record gives, its header's size field 0, as `tarfile` and
/// bsdtar write a file over 8 GiB.
fn pax_sized(kind: EntryType, name: &str, data: &[u8]) -> Vec<u8> {
    // A record starts with its own length in digits, those digits included.
    let value = format!(" size={}\n", data.len());
    let mut length = value.len();
    while length != value.len() + length.to_string().len() {
        length = value.len() + length.to_string().len();
    }
    let record = format!("{length}{value}");
    assert_eq!(record.len(), length, "the record counts its own length");
    let mut builder = tar::Builder::new(Vec::new());
    let mut pax = tar::Header::new_ustar();
    pax.set_entry_type(EntryType::XHeader);
    pax.set_path("PaxHeaders/entry").expect("name");
    pax.set_size(record.len() as u64);
    pax.set_cksum();
    builder.append(&pax, record.as_bytes()).expect("appends");
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(kind);
    header.set_path(name).expect("name");
    header.set_mode(0o755);
    header.set_size(0);
    header.set_cksum();
    builder.append(&header, data).expect("appends");
    builder.into_inner().expect("finishes")
}

#[test]
fn a_size_in_a_pax_record_is_the_one_counted() {
    let contents =
        check(&pax_sized(EntryType::Regular, "big.bin", &[7; 3000])[..], &Kept::default())
            .expect("accepted");
    assert_eq!(contents.file_bytes, 3000, "free space is checked for the record's size");
    let hidden = check(&pax_sized(EntryType::Directory, "sub", b"hidden")[..], &Kept::default());
    match hidden {
        Err(Invalid::Refused(list)) => assert_eq!(list[0].reason, Refused::HiddenContent),
        other => panic!("content behind a directory header must be refused: {other:?}"),
    }
}

#[test]
fn a_sparse_file_counts_at_its_whole_size() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("holes.img");
    let mut file = std::fs::File::create(&path).expect("created");
    file.write_all(b"start").expect("written");
    file.set_len(64 * 1024 * 1024).expect("a hole to the end");
    let mut builder = tar::Builder::new(Vec::new());
    builder.append_path_with_name(&path, "holes.img").expect("appends");
    let bytes = builder.into_inner().expect("finishes");
    let mut archived = tar::Archive::new(&bytes[..]);
    let entry = archived.entries().expect("reads").next().expect("an entry").expect("entry");
    assert_eq!(entry.header().entry_type(), EntryType::GNUSparse, "the temp dir keeps holes");
    assert!(bytes.len() < 1024 * 1024, "the archive holds the data, not the hole");

    let contents = check(&bytes[..], &Kept::default()).expect("accepted");
    assert_eq!(contents.file_bytes, 64 * 1024 * 1024);
}

#[test]
fn free_space_keeps_a_margin() {
    let contents = Contents { entries: 10, file_bytes: 1_000_000, root_mtime: None };
    let needed = 1_000_000 + 10 * 4096 + 10_000;
    assert_eq!(room_needed(contents), Some(needed));
    let beyond = Contents { entries: 1, file_bytes: u64::MAX - 10, root_mtime: None };
    assert_eq!(room_needed(beyond), None, "more than can be counted");
    assert!(!fits(beyond, u64::MAX));
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

#[test]
fn hardlinks_to_a_symlink_are_refused() {
    let got = refused(&[symlink(b"a/b/l", b"../.."), hardlink(b"x", b"a/b/l")]);
    assert_eq!(got, [("x".to_owned(), Refused::HardlinkToSymlink)]);
    // In a merge, to a link the data directory already holds.
    let existing = Kept { links: HashSet::from([b"old".to_vec()]), ..Kept::default() };
    let bytes = archive(&[hardlink(b"x", b"old")]);
    let Err(Invalid::Refused(list)) = check(&bytes[..], &existing) else { panic!("accepted") };
    assert_eq!(list[0].reason, Refused::HardlinkToSymlink);
}

/// A GNU long-name entry naming the next one, with any bytes, NULs included.
fn long_named(name: &[u8], data: &[u8]) -> Vec<u8> {
    let mut long = tar::Header::new_gnu();
    long.as_gnu_mut().expect("gnu").name[..13].copy_from_slice(b"././@LongLink");
    long.set_entry_type(EntryType::GNULongName);
    long.set_size(name.len() as u64 + 1);
    long.set_mode(0o644);
    long.set_cksum();
    let mut bytes = long.as_bytes().to_vec();
    bytes.extend_from_slice(name);
    bytes.push(0);
    bytes.resize(bytes.len().div_ceil(512) * 512, 0);
    let mut header = tar::Header::new_gnu();
    header.set_path("placeholder").expect("name");
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes.resize(bytes.len().div_ceil(512) * 512 + 1024, 0);
    bytes
}

#[test]
fn names_longer_than_a_file_system_takes_are_refused() {
    let component = vec![b'n'; 256];
    let bytes = long_named(&component, b"x");
    let Err(Invalid::Refused(list)) = check(&bytes[..], &Kept::default()) else { panic!() };
    assert_eq!(list[0].reason, Refused::NameTooLong);
    let deep = [&[b'd'; 200][..], b"/"].concat().repeat(21);
    let bytes = long_named(&[&deep[..], b"f"].concat(), b"x");
    let Err(Invalid::Refused(list)) = check(&bytes[..], &Kept::default()) else { panic!() };
    assert_eq!(list[0].reason, Refused::NameTooLong, "a path of {} bytes", deep.len() + 1);
    let fits = long_named(&[&[b'n'; 255][..], b"/f"].concat(), b"x");
    assert!(check(&fits[..], &Kept::default()).is_ok(), "255 bytes a name is fine");
    // `/data/` and the path make 4,095 bytes at the most.
    let path_of = |len: usize| {
        let mut path = [&[b'd'; 200][..], b"/"].concat().repeat(20);
        path.extend(std::iter::repeat_n(b'f', len - path.len()));
        path
    };
    let longest = long_named(&path_of(4095 - 6), b"x");
    assert!(check(&longest[..], &Kept::default()).is_ok(), "4,095 bytes with `/data/`");
    let over = long_named(&path_of(4095 - 5), b"x");
    let Err(Invalid::Refused(list)) = check(&over[..], &Kept::default()) else { panic!() };
    assert_eq!(list[0].reason, Refused::NameTooLong);
    assert_eq!(list[0].path.chars().count(), 161, "shown by its start and end");
    let shown = &list[0].path;
    assert!(shown.starts_with("dddd") && shown.ends_with("ffff") && shown.contains('…'));
}

#[test]
fn hardlinks_to_a_file_not_there_are_refused() {
    let got = refused(&[hardlink(b"early", b"later"), file(b"later", b"x")]);
    assert_eq!(got, [("early".to_owned(), Refused::HardlinkToNothing)]);
    let got = refused(&[dir(b"d"), hardlink(b"to-dir", b"d")]);
    assert_eq!(got, [("to-dir".to_owned(), Refused::HardlinkToNothing)]);
    accepted(&[file(b"a", b"x"), hardlink(b"b", b"./a"), hardlink(b"c", b"b")]);
    // In a merge, to a file the data directory already holds.
    let kept = Kept { files: HashSet::from([b"old".to_vec()]), ..Kept::default() };
    let bytes = archive(&[hardlink(b"x", b"old")]);
    assert!(check(&bytes[..], &kept).is_ok());
}

#[test]
fn entries_below_a_file_are_refused() {
    let got = refused(&[file(b"x", b"1"), file(b"x/y", b"2")]);
    assert_eq!(got, [("x/y".to_owned(), Refused::UnderAFile)]);
    // A directory entry of the file's name replaces it.
    accepted(&[file(b"x", b"1"), dir(b"x"), file(b"x/y", b"2")]);
    // In a merge, below a file the data directory keeps.
    let kept = Kept { files: HashSet::from([b"notes".to_vec()]), ..Kept::default() };
    let bytes = archive(&[file(b"notes/today", b"x")]);
    let Err(Invalid::Refused(list)) = check(&bytes[..], &kept) else { panic!("accepted") };
    assert_eq!(list[0].reason, Refused::UnderAFile);
}

#[test]
fn a_merge_never_turns_a_directory_into_a_file_or_back() {
    let kept = Kept {
        dirs: HashSet::from([b"".to_vec(), b"photos".to_vec()]),
        files: HashSet::from([b"notes".to_vec()]),
        ..Kept::default()
    };
    let bytes = archive(&[file(b"photos", b"x"), dir(b"notes"), dir(b"./"), file(b"new", b"y")]);
    let Err(Invalid::Refused(list)) = check(&bytes[..], &kept) else { panic!("accepted") };
    let got: Vec<_> = list.into_iter().map(|r| (r.path, r.reason)).collect();
    let other = Refused::ReplacesAnotherKind;
    assert_eq!(got, [("photos".to_owned(), other), ("notes".to_owned(), other)]);
    // The same entries over the same kinds are what a merge is for.
    accepted(&[dir(b"photos"), file(b"notes", b"z")]);
    let same = archive(&[dir(b"photos"), file(b"notes", b"z")]);
    assert!(check(&same[..], &kept).is_ok());
}

#[test]
fn a_nul_inside_a_name_is_refused() {
    // Read as `a/b\0/c/d` here but as `a/b` by a reader that stops at the NUL.
    let bytes = long_named(b"a/b\0/c/d", b"x");
    let Err(Invalid::Refused(list)) = check(&bytes[..], &Kept::default()) else { panic!() };
    assert_eq!(list[0].reason, Refused::NulInName);
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("compresses");
    encoder.finish().expect("finishes")
}

#[test]
fn a_gzip_damaged_or_cut_after_the_archive_end_is_damaged() {
    let plain = archive(&[file(b"payload", &[b'A'; 20_000])]);
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    encoder.write_all(&plain).expect("compresses");
    let whole = encoder.finish().expect("finishes");
    // Stored, not deflated: one byte of the file's content changed, the stream still whole.
    let mut flipped = whole.clone();
    let at = flipped.windows(4).position(|w| w == b"AAAA").expect("content") + 100;
    flipped[at] = b'B';
    let cut_trailer = &whole[..whole.len() - 4];
    // Cut right after the end-of-archive blocks: the whole trailer gone.
    let cut_after_end = &whole[..whole.len() - 8];

    for (what, bytes) in
        [("flipped", &flipped[..]), ("trailer cut", cut_trailer), ("cut", cut_after_end)]
    {
        let checked = check(decoded(Format::Gzip, bytes), &Kept::default());
        assert!(matches!(checked, Err(Invalid::Damaged(_))), "{what}: {checked:?}");
        let mut out = Vec::new();
        let kept = Kept::default();
        let into = Destination { kept: &kept, owner: None };
        let rebuilt = rebuild(decoded(Format::Gzip, bytes), into, &mut out).expect("writes");
        assert!(matches!(rebuilt, Err(Invalid::Damaged(_))), "{what}: {rebuilt:?}");
        assert!(!out.ends_with(&[0; 1024]), "{what}: the rebuilt archive is not ended");
    }
    assert!(check(decoded(Format::Gzip, &whole[..]), &Kept::default()).is_ok(), "whole is fine");
}

#[test]
fn zeros_after_the_last_gzip_member_end_it_and_other_bytes_are_damage() {
    let mut padded = gzip(&archive(&[file(b"kept", b"x")]));
    padded.resize(padded.len().div_ceil(10240) * 10240, 0);
    let contents = check(decoded(Format::Gzip, &padded[..]), &Kept::default()).expect("padding");
    assert_eq!(contents.entries, 1);
    let mut junk = gzip(&archive(&[file(b"kept", b"x")]));
    junk.extend_from_slice(b"\0\0trailing words");
    let got = check(decoded(Format::Gzip, &junk[..]), &Kept::default());
    assert!(matches!(got, Err(Invalid::Damaged(_))), "{got:?}");
    // Padding, then a member after all: damaged, never skipped, however the reads fall.
    let mut hidden = gzip(&archive(&[file(b"kept", b"x")])[..1024]);
    hidden.extend_from_slice(&[0; 100]);
    hidden.extend(gzip(&archive(&[symlink(b"escape", b"/etc")])));
    let got = check(decoded(Format::Gzip, &hidden[..]), &Kept::default());
    assert!(matches!(got, Err(Invalid::Damaged(_))), "{got:?}");
    struct ByteAtATime<'a>(&'a [u8]);
    impl Read for ByteAtATime<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let Some((first, rest)) = self.0.split_first() else { return Ok(0) };
            if buf.is_empty() {
                return Ok(0);
            }
            buf[0] = *first;
            self.0 = rest;
            Ok(1)
        }
    }
    let got = check(
        decoded(Format::Gzip, std::io::BufReader::new(ByteAtATime(&hidden))),
        &Kept::default(),
    );
    assert!(matches!(got, Err(Invalid::Damaged(_))), "{got:?}");
    let read = check(
        decoded(Format::Gzip, std::io::BufReader::new(ByteAtATime(&padded))),
        &Kept::default(),
    );
    assert!(read.is_ok(), "padding read a byte at a time: {read:?}");
}

#[test]
fn entries_in_a_second_gzip_member_are_checked_too() {
    // The first member ends without the end-of-archive blocks; the second goes on.
    let first = archive(&[file(b"harmless", b"x")]);
    let first = &first[..first.len() - 1024];
    let mut bytes = gzip(first);
    bytes.extend(gzip(&archive(&[symlink(b"escape", b"/etc")])));
    let got = check(decoded(Format::Gzip, &bytes[..]), &Kept::default());
    let Err(Invalid::Refused(list)) = got else { panic!("accepted: {got:?}") };
    assert_eq!(list[0].path, "escape");
}

/// What a reader sees of every entry: name and link as bytes, type, mode, owner, time,
/// content.
type Seen = (Vec<u8>, Option<Vec<u8>>, EntryType, u32, u64, u64, u64, Vec<u8>);

fn seen(bytes: &[u8]) -> Vec<Seen> {
    let mut archive = tar::Archive::new(bytes);
    let mut all = Vec::new();
    for entry in archive.entries().expect("reads") {
        let mut entry = entry.expect("entry");
        let h = entry.header().clone();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("content");
        all.push((
            entry.path_bytes().into_owned(),
            entry.link_name_bytes().map(|l| l.into_owned()),
            h.entry_type(),
            h.mode().expect("mode"),
            h.uid().expect("uid"),
            h.gid().expect("gid"),
            h.mtime().expect("mtime"),
            data,
        ));
    }
    all
}

fn rebuilt(bytes: &[u8], existing: &HashSet<Vec<u8>>) -> Result<Vec<u8>, Invalid> {
    let mut out = Vec::new();
    let kept = Kept { links: existing.clone(), ..Kept::default() };
    let into = Destination { kept: &kept, owner: None };
    rebuild(bytes, into, &mut out).expect("writes").map(|()| out)
}

#[test]
fn the_rebuilt_archive_holds_every_entry_as_this_reader_read_it() {
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |name: &[u8], kind: EntryType, mode: u32, link: Option<&[u8]>, data: &[u8]| {
        use std::os::unix::ffi::OsStrExt;
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(1000);
        header.set_gid(1001);
        header.set_mtime(1_700_000_123);
        header.set_size(data.len() as u64);
        let name = std::path::Path::new(std::ffi::OsStr::from_bytes(name));
        match link {
            Some(link) => {
                let link = std::path::Path::new(std::ffi::OsStr::from_bytes(link));
                builder.append_link(&mut header, name, link).expect("link");
            }
            None => builder.append_data(&mut header, name, data).expect("entry"),
        }
    };
    let long = format!("deep/{}/ünïcödé-{}", "d".repeat(120), "n".repeat(150));
    add(b"./", EntryType::Directory, 0o750, None, b"");
    add(b"deep", EntryType::Directory, 0o555, None, b"");
    add(long.as_bytes(), EntryType::Regular, 0o444, None, b"long");
    add(b"latin1-\xe9t\xe9", EntryType::Regular, 0o600, None, b"bytes");
    add(b"empty", EntryType::Directory, 0o700, None, b"");
    add(b"rel", EntryType::Symlink, 0o777, Some(b"deep"), b"");
    add(b"abs", EntryType::Symlink, 0o777, Some(b"/data/empty"), b"");
    let far = format!("{}/target", "t".repeat(120));
    add(b"far", EntryType::Symlink, 0o777, Some(far.as_bytes()), b"");
    add(b"again", EntryType::Link, 0o444, Some(long.as_bytes()), b"");
    let original = builder.into_inner().expect("finishes");

    let copy = rebuilt(&original, &HashSet::new()).expect("accepted");
    let (want, got) = (seen(&original), seen(&copy));
    assert_eq!(got.len(), 9);
    for (want, got) in want.iter().zip(&got) {
        let name = |n: &[u8]| n.strip_suffix(b"/").unwrap_or(n).to_vec();
        assert_eq!((name(&got.0), &got.1), (name(&want.0), &want.1));
        assert_eq!(
            (got.2, got.3, got.4, got.5, got.6, &got.7),
            (want.2, want.3, want.4, want.5, want.6, &want.7)
        );
    }
}

#[test]
fn a_rebuild_stops_at_the_first_refused_entry() {
    let bytes = archive(&[file(b"ok", b"x"), symlink(b"out", b"/etc"), file(b"never", b"y")]);
    let mut out = Vec::new();
    let none = Kept::default();
    let into = Destination { kept: &none, owner: None };
    let got = rebuild(&bytes[..], into, &mut out).expect("writes");
    let Err(Invalid::Refused(list)) = got else { panic!("not refused: {got:?}") };
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].reason, Refused::SymlinkOutside);
    let written: Vec<Vec<u8>> = seen(&out).into_iter().map(|e| e.0).collect();
    assert_eq!(written, [b"ok".to_vec()], "nothing from the refused entry on");
}

#[test]
fn a_rebuild_tells_a_stopped_reader_from_a_damaged_archive() {
    struct Closed;
    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload stopped"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let bytes = archive(&[file(b"ok", b"x")]);
    let none = Kept::default();
    let into = Destination { kept: &none, owner: None };
    let error = rebuild(&bytes[..], into, Closed).expect_err("the writer failed");
    assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe);
    let cut = &bytes[..300];
    let got = rebuild(cut, into, std::io::sink()).expect("writes");
    assert!(matches!(got, Err(Invalid::Damaged(_))), "{got:?}");
}

#[test]
fn a_rebuild_for_a_user_gives_every_entry_to_it_and_the_directories_it_implies() {
    let bytes =
        archive(&[dir(b"d"), file(b"d/f", b"x"), symlink(b"l", b"d/f"), file(b"a/b/c", b"y")]);
    let mut out = Vec::new();
    let none = Kept::default();
    let owner = Some(Owner { uid: 1234, gid: 4321 });
    let into = Destination { kept: &none, owner };
    rebuild(&bytes[..], into, &mut out).expect("writes").expect("ok");
    let got: Vec<_> = seen(&out).into_iter().map(|e| (e.0, e.2, e.4, e.5)).collect();
    let dir = EntryType::Directory;
    let want = [
        (b"d".to_vec(), dir, 1234, 4321),
        (b"d/f".to_vec(), EntryType::Regular, 1234, 4321),
        (b"l".to_vec(), EntryType::Symlink, 1234, 4321),
        (b"a".to_vec(), dir, 1234, 4321),
        (b"a/b".to_vec(), dir, 1234, 4321),
        (b"a/b/c".to_vec(), EntryType::Regular, 1234, 4321),
    ];
    assert_eq!(got, want);
}

#[test]
fn a_merge_for_a_user_leaves_the_directories_it_keeps_alone() {
    let bytes = archive(&[file(b"kept/inner", b"x"), file(b"new/deep/f", b"y")]);
    let mut out = Vec::new();
    let kept = Kept { dirs: HashSet::from([b"kept".to_vec()]), ..Kept::default() };
    let owner = Some(Owner { uid: 1234, gid: 4321 });
    let into = Destination { kept: &kept, owner };
    rebuild(&bytes[..], into, &mut out).expect("writes").expect("ok");
    let got: Vec<_> = seen(&out).into_iter().map(|e| (e.0, e.2)).collect();
    let (dir, regular) = (EntryType::Directory, EntryType::Regular);
    let want = [
        (b"kept/inner".to_vec(), regular),
        (b"new".to_vec(), dir),
        (b"new/deep".to_vec(), dir),
        (b"new/deep/f".to_vec(), regular),
    ];
    assert_eq!(got, want, "no entry for the kept directory, whose owner stays");
}

/// A directory header declaring content, and as that content a whole hostile entry.
fn directory_hiding_an_entry() -> Vec<u8> {
    let hidden = archive(&[symlink(b"esc", b"/etc")]);
    let hidden = &hidden[..512];
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(EntryType::Directory);
    header.set_path("d").expect("name");
    header.set_mode(0o755);
    header.set_size(512);
    header.set_cksum();
    let mut bytes = header.as_bytes().to_vec();
    bytes.extend_from_slice(hidden);
    bytes.extend_from_slice(&[0; 1024]);
    bytes
}

#[test]
fn content_after_a_directory_header_is_refused() {
    let bytes = directory_hiding_an_entry();
    let Err(Invalid::Refused(list)) = check(&bytes[..], &Kept::default()) else { panic!() };
    assert_eq!(list[0].reason, Refused::HiddenContent);
    let Err(Invalid::Refused(list)) = rebuilt(&bytes, &HashSet::new()) else { panic!() };
    assert_eq!(list[0].reason, Refused::HiddenContent);
}

#[test]
fn a_refused_rebuild_does_not_end_the_archive() {
    // What was written stops short of the end-of-archive blocks: the engine's unpack reads on
    // into the upload's error and fails, rather than finishing at them with what came before.
    let bytes = archive(&[file(b"ok", b"x"), symlink(b"out", b"/etc")]);
    let mut out = Vec::new();
    let none = Kept::default();
    let into = Destination { kept: &none, owner: None };
    let got = rebuild(&bytes[..], into, &mut out).expect("writes");
    assert!(matches!(got, Err(Invalid::Refused(_))));
    assert!(!out.ends_with(&[0; 1024]), "no end-of-archive blocks after a refusal");
}
