//! Export, import and reset of a data directory on a real engine, with the container running
//! and stopped, and hostile or broken archives that must change nothing.

use std::path::Path;

use berth_core::data::ImportMode;
use berth_core::lifecycle::ContainerState;
use berth_core::operations::Outcome;

use crate::support::{docker, docker_ok, follow, TestBerth};
use crate::{container_id, exec, state_of};

async fn export(t: &TestBerth, bot: &str, path: &Path) -> Outcome {
    follow(t.berth.data_export(bot, path).await.expect("export starts")).await.0
}

async fn import(t: &TestBerth, bot: &str, path: &Path, mode: ImportMode) -> Outcome {
    follow(t.berth.data_import(bot, path, mode, None).await.expect("import starts")).await.0
}

fn failure(outcome: Outcome) -> berth_core::ErrorPayload {
    match outcome {
        Outcome::Failed { error } => error,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// Every entry of the data directory: its name's bytes in hex (the output is read as UTF-8,
/// which would blur other bytes), type, mode, owner, size, time, and link target or content.
const LISTING: &str = "cd /data && find . | sort | while read -r f; do \
    printf '%s' \"$f\" | od -An -tx1 | tr -d ' \\n'; echo; stat -c '%F %a %u:%g %s %Y %h' \"$f\"; \
    if [ -L \"$f\" ]; then readlink \"$f\"; elif [ -f \"$f\" ]; then md5sum < \"$f\"; fi; done";

/// Content of every kind an export must keep: nested and empty directories, a read-only
/// directory, modes, owners, old times, relative and absolute links, a hard link, a long
/// name, a name in UTF-8 and one that is not UTF-8.
const FILL: &str = "cd /data && mkdir -p deep/er/est empty locked && echo one > deep/er/est/f \
    && echo secret > key && chmod 600 key && chown 1000:1000 key \
    && echo run > tool && chmod 755 tool && ln -s deep/er/est/f rel && ln -s /data/key abs \
    && ln deep/er/est/f deep/hard \
    && echo café > 'ünïcödé-名前' && echo raw > \"$(printf 'caf\\351')\" \
    && echo long > \"$(printf 'n%.0s' $(seq 1 200))\" \
    && echo ro > locked/inside && chmod 555 locked \
    && touch -d '2020-01-02 03:04:05' key deep/er/est/f";

#[tokio::test]
async fn export_then_import_into_another_bot_keeps_everything_exactly() {
    let t = TestBerth::start().await;
    let source = t.running_bot("exporter").await;
    exec(&t, &source.id, FILL).await;
    let before = exec(&t, &source.id, LISTING).await;
    assert!(before.len() > 10, "{before:?}");

    let dir = tempfile::tempdir().expect("temp dir");
    let chosen = dir.path().join("backup");
    assert_eq!(export(&t, &source.id, &chosen).await, Outcome::Done, "exported while running");
    let file = dir.path().join("backup.tar.gz");
    assert!(file.exists(), "the extension was added");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).expect("lists").collect();
    assert_eq!(leftovers.len(), 1, "nothing but the archive beside it");

    // Entries are relative to the data directory, links stay links.
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(&file).expect("opens"));
    let mut archive = tar::Archive::new(gz);
    let mut names = Vec::new();
    for entry in archive.entries().expect("a tar") {
        let entry = entry.expect("an entry");
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if name.ends_with("rel") {
            assert!(entry.header().entry_type().is_symlink(), "{name} is a link");
        }
        names.push(name);
    }
    assert!(names.iter().all(|n| !n.starts_with("data/") && !n.starts_with('/')), "{names:?}");

    // Stopped, the same archive comes out.
    t.berth.container_stop(&source.id).await.expect("stops");
    let again = dir.path().join("again.tar.gz");
    assert_eq!(export(&t, &source.id, &again).await, Outcome::Done, "exported while stopped");
    assert_eq!(entries_of(&again), entries_of(&file));

    let target = t.running_bot("importer").await;
    t.berth.container_stop(&target.id).await.expect("stops");
    let outcome = import(&t, &target.id, &file, ImportMode::Replace).await;
    assert_eq!(outcome, Outcome::Done, "imported while stopped");
    t.berth.container_start(&target.id).await.expect("starts");
    assert_eq!(exec(&t, &target.id, LISTING).await, before, "content, modes, owners, times");
}

#[tokio::test]
async fn an_export_says_which_entries_an_import_would_refuse() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("odd entries").await;
    exec(&t, &bot.id, "cd /data && echo x > plain && ln -s /etc/passwd outside && mkfifo pipe")
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("odd.tar.gz");
    let (outcome, events) =
        follow(t.berth.data_export(&bot.id, &file).await.expect("starts")).await;
    assert_eq!(outcome, Outcome::Done, "the export itself succeeds");
    let note = crate::support::last_note(&events).expect("a note");
    assert!(note.contains("An import of it would refuse 2 of its entries"), "{note}");
    assert!(note.contains("`./outside`") && note.contains("`./pipe`"), "{note}");

    // What the export told is what an import refuses.
    let error = failure(import(&t, &bot.id, &file, ImportMode::Replace).await);
    assert!(error.message.contains("`./outside`"), "{}", error.message);
    assert!(error.message.contains("`./pipe`"), "{}", error.message);
}

#[tokio::test]
async fn merge_keeps_other_files_and_replace_keeps_only_the_archive() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("merger").await;
    exec(&t, &bot.id, "echo old > /data/shared && echo mine > /data/other").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("in.tar");
    write_tar(&file, &[(b"shared", b"new\n")]);

    assert_eq!(import(&t, &bot.id, &file, ImportMode::Merge).await, Outcome::Done);
    assert_eq!(exec(&t, &bot.id, "cat /data/shared /data/other").await, ["new", "mine"]);

    t.berth.container_stop(&bot.id).await.expect("stops");
    assert_eq!(import(&t, &bot.id, &file, ImportMode::Replace).await, Outcome::Done);
    t.berth.container_start(&bot.id).await.expect("starts");
    assert_eq!(exec(&t, &bot.id, "ls -A /data").await, ["shared"], "only the archive's content");
}

#[tokio::test]
async fn hostile_damaged_and_empty_archives_change_nothing() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("guarded").await;
    exec(&t, &bot.id, "echo kept > /data/kept").await;
    let before = exec(&t, &bot.id, LISTING).await;
    assert_eq!(before.len(), 5, "{before:?}");
    let dir = tempfile::tempdir().expect("temp dir");

    // A harmless first gzip member without the end of the archive, then a hostile one: a
    // reader of the first member alone would pass it, the engine's reads on.
    let first = tar_bytes(&[(b"fine", b"x")]);
    let mut members = gzip(&first[..first.len() - 1024]);
    members.extend(gzip(&tar_bytes(&[(b"../../escape", b"x")])));
    let two = dir.path().join("two-members.tar.gz");
    std::fs::write(&two, members).expect("written");
    let error = failure(import(&t, &bot.id, &two, ImportMode::Merge).await);
    assert_eq!(error.kind, "archiveRefused", "{}", error.message);
    assert!(error.message.contains("`../../escape`"), "{}", error.message);

    let hostile = dir.path().join("hostile.tar");
    write_tar(&hostile, &[(b"fine", b"x"), (b"/etc/evil", b"x"), (b"../escape", b"x")]);
    for mode in [ImportMode::Merge, ImportMode::Replace] {
        let error = failure(import(&t, &bot.id, &hostile, mode).await);
        assert_eq!(error.kind, "archiveRefused", "{}", error.message);
        assert!(error.message.contains("`/etc/evil`: an absolute path"), "{}", error.message);
        assert!(error.message.contains("`../escape`: a `..` component"), "{}", error.message);
    }

    let cut = dir.path().join("cut.tar.gz");
    let whole = gzip(&tar_bytes(&[(b"big", &[7; 100_000])]));
    std::fs::write(&cut, &whole[..whole.len() / 2]).expect("written");
    let empty = dir.path().join("empty.tgz");
    std::fs::write(&empty, b"").expect("written");
    let text = dir.path().join("notes.tar");
    std::fs::write(&text, "not an archive at all".repeat(40)).expect("written");
    for file in [&cut, &empty, &text] {
        let error = failure(import(&t, &bot.id, file, ImportMode::Replace).await);
        assert_eq!(error.kind, "archiveInvalid", "{}", error.message);
    }
    // A pipe would be read for ever: only a regular file is opened.
    let pipe = dir.path().join("pipe.tar");
    assert!(std::process::Command::new("mkfifo").arg(&pipe).status().is_ok_and(|s| s.success()));
    let missing = dir.path().join("gone.tar");
    for (file, reason) in [
        (&pipe, "not a regular file"),
        (&dir.path().to_owned(), "it is a folder"),
        (&missing, "there is no such file"),
    ] {
        let started = t.berth.data_import(&bot.id, file, ImportMode::Merge, None).await;
        let outcome = follow(started.expect("starts")).await.0;
        let error = failure(outcome);
        assert!(error.message.contains(reason), "{}", error.message);
    }
    assert_eq!(exec(&t, &bot.id, LISTING).await, before, "nothing changed");
    assert_eq!(t.leftovers().len(), 2, "no helper container left");
}

#[tokio::test]
async fn a_failed_import_puts_the_data_directory_back_exactly() {
    let t = TestBerth::start().await;
    let bot = t.berth.bot_create("rollback", &crate::support::test_image("latest")).await;
    let bot = bot.expect("bot");
    // The bot's data volume, made before Create on a file system of 64 inodes: bytes to
    // spare, but room for few files.
    let (volume, label) = (format!("berth-data-{}", bot.id), t.run_label());
    let options = "o=size=16m,nr_inodes=64";
    let args = ["volume", "create", "--label", &label, "--opt", "type=tmpfs", "--opt"];
    let made = docker_ok(&[&args[..], &["device=tmpfs", "--opt", options, &volume]].concat());
    assert!(made, "a volume of few inodes");
    assert_eq!(t.create_container(&bot.id).await.0, Outcome::Done);
    exec(&t, &bot.id, FILL).await;
    let before = exec(&t, &bot.id, LISTING).await;
    assert!(before.len() > 10, "{before:?}");

    // Passes every check and the free-space one, but runs out of inodes while written.
    let dir = tempfile::tempdir().expect("temp dir");
    let broken = dir.path().join("many.tar");
    let names: Vec<Vec<u8>> = (0..100).map(|i| format!("f{i}").into_bytes()).collect();
    let files: Vec<(&[u8], &[u8])> = names.iter().map(|n| (&n[..], &b"x"[..])).collect();
    write_tar(&broken, &files);
    for mode in [ImportMode::Replace, ImportMode::Merge] {
        let error = failure(import(&t, &bot.id, &broken, mode).await);
        assert!(error.message.contains("no space left"), "{mode:?}: {}", error.message);
        assert_eq!(exec(&t, &bot.id, LISTING).await, before, "{mode:?} put everything back");
    }
    assert_eq!(t.leftovers().len(), 2, "no helper container left");
}

#[tokio::test]
async fn reset_empties_the_data_directory_running_or_stopped() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("resetter").await;
    let id = container_id(&t, &bot.id).await;
    let fill = "cd /data && echo x > .hidden && mkdir -p closed/inner && echo y > closed/inner/f \
        && chmod 000 closed/inner/f closed/inner closed && echo z > locked && chmod 000 locked";
    exec(&t, &bot.id, fill).await;
    let watcher = t.berth.data_reset(&bot.id, Some("before reset")).await.expect("starts");
    assert_eq!(follow(watcher).await.0, Outcome::Done);
    assert!(exec(&t, &bot.id, "ls -A /data").await.is_empty(), "empty while running");
    assert_eq!(container_id(&t, &bot.id).await, id, "the same container");
    assert_eq!(t.berth.snapshots(&bot.id).await.expect("lists").len(), 1, "saved first");

    exec(&t, &bot.id, fill).await;
    t.berth.container_stop(&bot.id).await.expect("stops");
    let watcher = t.berth.data_reset(&bot.id, None).await.expect("starts");
    assert_eq!(follow(watcher).await.0, Outcome::Done);
    assert_eq!(state_of(&t, &bot.id).await, ContainerState::Stopped, "still stopped");
    t.berth.container_start(&bot.id).await.expect("starts");
    assert!(exec(&t, &bot.id, "ls -A /data").await.is_empty(), "empty while stopped");
}

fn tar_bytes(files: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_cksum();
        builder.append(&header, *data).expect("appends");
    }
    builder.into_inner().expect("finishes")
}

fn write_tar(path: &Path, files: &[(&[u8], &[u8])]) {
    std::fs::write(path, tar_bytes(files)).expect("written");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("compresses");
    gz.finish().expect("finishes")
}

#[tokio::test]
async fn imported_files_belong_to_the_containers_user() {
    let t = TestBerth::start().await;
    let image = format!("berth-test/user:{}", crate::support::uuid());
    let builder = format!("berth-test-build-{}", crate::support::uuid());
    let base = crate::support::test_image("latest");
    let label = t.run_label();
    docker(&["create", "--name", &builder, "--label", &label, &base]);
    docker(&["commit", "--change", "USER 1234:1234", &builder, &image]);
    docker(&["rm", &builder]);
    let bot = t.berth.bot_create("user-owned", &image).await.expect("bot");
    assert_eq!(t.create_container(&bot.id).await.0, Outcome::Done);
    let own =
        exec(&t, &bot.id, "stat -c '%u:%g' /data && echo mine > /data/t && cat /data/t").await;
    assert_eq!(own, ["1234:1234", "mine"], "a new data directory is the container user's");
    exec(&t, &bot.id, "rm /data/t").await;

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("root-owned.tar");
    write_tar(&file, &[(b"secret", b"for the bot\n")]);
    assert_eq!(import(&t, &bot.id, &file, ImportMode::Replace).await, Outcome::Done);
    let owner = exec(&t, &bot.id, "stat -c '%u:%g' /data/secret && cat /data/secret").await;
    assert_eq!(owner, ["1234:1234", "for the bot"], "readable by the container's user");

    // A merge gives the archive's files to the user, and leaves the others' owners alone.
    let id = container_id(&t, &bot.id).await;
    let root_made = "echo root > /data/root-only && mkdir -m 700 /data/root-dir";
    docker(&["exec", "-u", "0", &id, "sh", "-c", root_made]);
    let other = dir.path().join("other.tar");
    let entries: [(&[u8], &[u8]); 3] =
        [(b"more", b"also for the bot\n"), (b"root-dir/in", b"x"), (b"new/deep/file", b"y")];
    write_tar(&other, &entries);
    assert_eq!(import(&t, &bot.id, &other, ImportMode::Merge).await, Outcome::Done);
    let listed = "more root-only root-dir root-dir/in new new/deep new/deep/file";
    // As root: the container's user may not look into the root-only directory.
    let owners_of = format!("cd /data && stat -c '%n %u:%g %a' {listed}");
    let owners = docker(&["exec", "-u", "0", &id, "sh", "-c", &owners_of]);
    assert_eq!(
        owners,
        [
            "more 1234:1234 644",
            "root-only 0:0 644",
            "root-dir 0:0 700",
            "root-dir/in 1234:1234 644",
            "new 1234:1234 755",
            "new/deep 1234:1234 755",
            "new/deep/file 1234:1234 644",
        ],
        "the archive's entries and the directories they need are the user's; the rest stays"
    );
    docker(&["rmi", &image]);
}

#[tokio::test]
async fn a_replace_that_would_not_fit_is_refused_before_anything_changes() {
    let t = TestBerth::start().await;
    let bot = t.berth.bot_create("small disk", &crate::support::test_image("latest")).await;
    let bot = bot.expect("bot");
    // The bot's data volume, made before Create on a 1 MiB file system.
    let volume = format!("berth-data-{}", bot.id);
    let label = t.run_label();
    let made = docker_ok(&[
        "volume",
        "create",
        "--label",
        &label,
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=size=1m",
        &volume,
    ]);
    assert!(made, "a small volume");
    assert_eq!(t.create_container(&bot.id).await.0, Outcome::Done);
    exec(&t, &bot.id, "echo kept > /data/kept").await;

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("big.tar");
    write_tar(&file, &[(b"big", &[1; 3_000_000])]);
    let error = failure(import(&t, &bot.id, &file, ImportMode::Replace).await);
    assert_eq!(error.kind, "noSpace", "{}", error.message);
    assert_eq!(exec(&t, &bot.id, "ls -A /data && cat /data/kept").await, ["kept", "kept"]);
}

/// Each entry's name, type, mode, size and time, in order.
fn entries_of(path: &Path) -> Vec<String> {
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(path).expect("opens"));
    let mut archive = tar::Archive::new(gz);
    let entries = archive.entries().expect("a tar");
    entries
        .map(|entry| {
            let entry = entry.expect("an entry");
            let header = entry.header();
            format!(
                "{} {:?} {:o} {} {}",
                String::from_utf8_lossy(&entry.path_bytes()),
                header.entry_type(),
                header.mode().unwrap_or_default(),
                header.size().unwrap_or_default(),
                header.mtime().unwrap_or_default()
            )
        })
        .collect()
}

#[tokio::test]
async fn cancelled_export_and_import_leave_everything_as_it_was() {
    let t = TestBerth::start().await;
    let bot = t.running_bot("canceller").await;
    exec(&t, &bot.id, "head -c 20000000 /dev/urandom > /data/big && echo kept > /data/kept").await;
    // Names, sizes, modes, owners, times and content; not `ls -l`'s block total, which the
    // file system may change on its own after a large write.
    let listing = "cd /data && stat -c '%n %s %a %u:%g %Y' * && md5sum big && cat kept";
    let before = exec(&t, &bot.id, listing).await;
    let dir = tempfile::tempdir().expect("temp dir");

    let chosen = dir.path().join("never.tar.gz");
    let watcher = t.berth.data_export(&bot.id, &chosen).await.expect("starts");
    t.berth.operation_cancel(&watcher.info().id).expect("cancels");
    assert_eq!(follow(watcher).await.0, Outcome::Cancelled);
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("lists").collect();
    assert!(left.is_empty(), "nothing at or beside the chosen path: {left:?}");

    let archive = dir.path().join("in.tar");
    write_tar(&archive, &[(b"kept", b"replaced\n")]);
    for mode in [ImportMode::Replace, ImportMode::Merge] {
        let watcher = t.berth.data_import(&bot.id, &archive, mode, None).await.expect("starts");
        t.berth.operation_cancel(&watcher.info().id).expect("cancels");
        assert_eq!(follow(watcher).await.0, Outcome::Cancelled, "{mode:?}");
        assert_eq!(exec(&t, &bot.id, listing).await, before, "{mode:?} changed nothing");
    }
    assert_eq!(t.leftovers().len(), 2, "no helper container left");
}

#[tokio::test]
async fn an_import_cancelled_while_writing_ends_cancelled_and_puts_everything_back() {
    use berth_core::operations::{OperationEvent, Phase};

    let t = TestBerth::start().await;
    let bot = t.running_bot("late canceller").await;
    exec(&t, &bot.id, "echo kept > /data/kept && mkdir /data/sub && echo two > /data/sub/b").await;
    let before = exec(&t, &bot.id, LISTING).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let archive = dir.path().join("big.tar");
    let chunk = vec![7u8; 20_000_000];
    let files: Vec<(Vec<u8>, &[u8])> =
        (0..8).map(|n| (format!("big-{n}").into_bytes(), chunk.as_slice())).collect();
    let files: Vec<(&[u8], &[u8])> = files.iter().map(|(n, d)| (n.as_slice(), *d)).collect();
    write_tar(&archive, &files);

    for mode in [ImportMode::Replace, ImportMode::Merge] {
        let watcher = t.berth.data_import(&bot.id, &archive, mode, None).await.expect("starts");
        let (id, berth) = (watcher.info().id.clone(), t.berth.clone());
        let (mut asked, mut last) = (false, None);
        watcher
            .forward(|event| {
                if let OperationEvent::Progress(p) = &event {
                    let writing = p.phase == Some(Phase::Importing)
                        && p.transfer.as_ref().is_some_and(|t| t.done > 0);
                    if writing && !asked {
                        asked = berth.operation_cancel(&id).is_ok();
                    }
                }
                last = Some(event);
                true
            })
            .await;
        assert!(asked, "{mode:?}: cancelled while writing");
        let Some(OperationEvent::Finished { outcome, .. }) = last else { panic!("no end") };
        assert_eq!(outcome, Outcome::Cancelled, "{mode:?}");
        assert_eq!(exec(&t, &bot.id, LISTING).await, before, "{mode:?} put everything back");
    }
    assert_eq!(t.leftovers().len(), 2, "no job container left");
}
