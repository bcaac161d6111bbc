use super::*;

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, _) = Store::open(&dir.path().join("nested").join("berth.db")).expect("opens");
    (dir, store)
}

fn name(raw: &str) -> BotName {
    BotName::parse(raw).expect("valid name")
}

fn image() -> ImageRef {
    ImageRef::parse("busybox:latest").expect("valid image")
}

#[tokio::test]
async fn migrations_are_tracked_and_pragmas_set() {
    let (_dir, store) = temp_store();
    let (version, journal, keys) = store
        .call(|conn| {
            let read = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, String>(0));
            let version: i64 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(Error::store("test"))?;
            let journal = read("PRAGMA journal_mode").map_err(Error::store("test"))?;
            let keys: i64 = conn
                .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
                .map_err(Error::store("test"))?;
            Ok((version, journal, keys))
        })
        .await
        .expect("reads pragmas");
    assert_eq!(version, MIGRATIONS.len() as i64);
    assert_eq!(journal, "wal");
    assert_eq!(keys, 1);
}

#[tokio::test]
async fn reopening_keeps_bots() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("berth.db");
    let (store, _) = Store::open(&path).expect("opens");
    store.bot_insert(name("Keeper"), image()).await.expect("inserts");
    drop(store);

    let (store, _) = Store::open(&path).expect("opens again");
    let bots = store.bots().await.expect("lists");
    assert_eq!(bots.len(), 1);
    assert_eq!(bots[0].name, "Keeper");
}

#[tokio::test]
async fn duplicate_name_ignoring_case_is_name_taken() {
    let (_dir, store) = temp_store();
    store.bot_insert(name("Ärger"), image()).await.expect("first");
    let second = store.bot_insert(name("äRGER"), image()).await;
    assert!(matches!(second, Err(Error::NameTaken { ref name }) if name == "äRGER"));
    assert_eq!(store.bots().await.expect("lists").len(), 1);
}

#[tokio::test]
async fn deleting_a_bot_forgets_its_container() {
    let (_dir, store) = temp_store();
    let bot = store.bot_insert(name("Temp"), image()).await.expect("inserts");
    let record = ContainerRecord {
        container_id: "c1".into(),
        image: "busybox:latest".into(),
        image_digest: None,
        created_at: 1,
        snapshot_id: None,
        base_image_id: Some("sha256:base".into()),
    };
    store.container_set(&bot.id, record.clone()).await.expect("records");
    assert_eq!(store.container(&bot.id).await.expect("reads"), Some(record));
    let recorded = store.bots_with_containers().await.expect("lists");
    assert_eq!(recorded.len(), 1);
    assert!(recorded.contains(&bot.id));

    store.bot_delete(&bot.id).await.expect("deletes");
    assert_eq!(store.container(&bot.id).await.expect("reads"), None);
    assert!(matches!(store.bot(&bot.id).await, Err(Error::BotNotFound { .. })));
    assert!(matches!(store.bot_delete(&bot.id).await, Err(Error::BotNotFound { .. })));
}

#[tokio::test]
async fn operations_left_running_are_interrupted_on_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("berth.db");
    let (store, _) = Store::open(&path).expect("opens");
    let bot = store.bot_insert(name("Crashy"), image()).await.expect("inserts");
    store.operation_begin("op1", &bot.id, "create").await.expect("begins");
    store.operation_begin("op2", &bot.id, "create").await.expect("begins");
    store.operation_end("op2", OperationState::Done, None).await.expect("ends");
    drop(store);

    let (store, interrupted) = Store::open(&path).expect("opens again");
    assert_eq!(interrupted, 1);
    let ops = store.operations(&bot.id, 10).await.expect("lists");
    let state = |id: &str| ops.iter().find(|o| o.id == id).map(|o| o.state.clone());
    assert_eq!(state("op1").as_deref(), Some("interrupted"));
    assert_eq!(state("op2").as_deref(), Some("done"));
}

fn record(container_id: &str) -> ContainerRecord {
    ContainerRecord {
        container_id: container_id.into(),
        image: "busybox:latest".into(),
        image_digest: Some("sha256:abc".into()),
        created_at: 1,
        snapshot_id: None,
        base_image_id: Some("sha256:base".into()),
    }
}

#[tokio::test]
async fn versions_number_up_and_are_never_reused_after_a_delete() {
    let (_dir, store) = temp_store();
    let bot = store.bot_insert(name("Versioned"), image()).await.expect("inserts");

    store.container_set(&bot.id, record("c1")).await.expect("records");
    let first = store.version_record(&bot.id, VersionReason::Created).await.expect("first version");
    assert_eq!((first.number, first.reason), (1, VersionReason::Created));

    store.container_clear(&bot.id).await.expect("deleted");
    store.container_set(&bot.id, record("c2")).await.expect("records");
    let second =
        store.version_record(&bot.id, VersionReason::Created).await.expect("second version");
    assert_eq!((second.number, second.reason), (2, VersionReason::Recreated));
    assert_eq!(second.container_id, "c2");
    assert_eq!(second.image_digest.as_deref(), Some("sha256:abc"));

    let numbers: Vec<i64> =
        store.versions(&bot.id).await.expect("lists").iter().map(|v| v.number).collect();
    assert_eq!(numbers, [2, 1], "newest first");
}

#[tokio::test]
async fn versions_belong_to_one_bot() {
    let (_dir, store) = temp_store();
    let a = store.bot_insert(name("A"), image()).await.expect("inserts");
    let b = store.bot_insert(name("B"), image()).await.expect("inserts");
    store.container_set(&a.id, record("ca")).await.expect("records");
    store.container_set(&b.id, record("cb")).await.expect("records");
    store.version_record(&a.id, VersionReason::Created).await.expect("a1");
    assert_eq!(store.version_record(&b.id, VersionReason::Created).await.expect("b1").number, 1);
    store.bot_delete(&a.id).await.expect("deletes");
    assert!(store.versions(&a.id).await.expect("lists").is_empty(), "gone with the bot");
}

#[tokio::test]
async fn a_version_needs_a_recorded_container() {
    let (_dir, store) = temp_store();
    let bot = store.bot_insert(name("Empty"), image()).await.expect("inserts");
    assert!(matches!(
        store.version_record(&bot.id, VersionReason::Created).await,
        Err(Error::Store { .. })
    ));
}

#[tokio::test]
async fn other_reasons_are_kept_as_given() {
    let (_dir, store) = temp_store();
    let bot = store.bot_insert(name("Updated"), image()).await.expect("inserts");
    store.container_set(&bot.id, record("c1")).await.expect("records");
    store.version_record(&bot.id, VersionReason::Created).await.expect("first");
    let second = store.version_record(&bot.id, VersionReason::ImageUpdated).await.expect("second");
    assert_eq!((second.number, second.reason), (2, VersionReason::ImageUpdated));
}

#[tokio::test]
async fn containers_from_before_versions_become_version_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("berth.db");
    {
        let mut conn = Connection::open(&path).expect("opens");
        Migrations::new(vec![M::up(MIGRATIONS[0])]).to_latest(&mut conn).expect("version 1");
        conn.execute_batch(
            "INSERT INTO bots VALUES ('b1', 'Old', 'old', 'busybox', 1);
             INSERT INTO containers VALUES ('b1', 'c-old', 'busybox', 'sha256:x', 2);",
        )
        .expect("rows of version 1");
    }

    let (store, _) = Store::open(&path).expect("migrates");
    let versions = store.versions("b1").await.expect("lists");
    assert_eq!(versions.len(), 1);
    assert_eq!((versions[0].number, versions[0].reason), (1, VersionReason::Created));
    assert_eq!(versions[0].container_id, "c-old");
}

fn snapshot(bot: &str, id: &str, name: &str, parent: Option<&str>) -> Snapshot {
    Snapshot {
        id: id.into(),
        bot_id: bot.into(),
        name: name.into(),
        parent_id: parent.map(Into::into),
        created_at: 1,
        image_id: format!("sha256:{id}"),
        image_tag: format!("berth-snapshot/{bot}:{id}"),
        base_image: "busybox:latest".into(),
        base_digest: None,
        base_image_id: Some("sha256:base".into()),
        files_size: 10,
        data_file: format!("{bot}/{id}.tar"),
        data_size: 20,
        data_sha256: "00".into(),
    }
}

async fn take(store: &Store, bot: &Bot, id: &str, parent: Option<&str>) {
    let name = Name::parse_snapshot(id).expect("valid name");
    store.snapshot_insert(&bot.name, &name, snapshot(&bot.id, id, id, parent)).await.expect("in");
}

#[tokio::test]
async fn a_snapshot_becomes_what_the_container_descends_from() {
    let (_dir, store) = temp_store();
    let bot = store.bot_insert(name("Snappy"), image()).await.expect("inserts");
    store.container_set(&bot.id, record("c1")).await.expect("records");
    take(&store, &bot, "one", None).await;
    let container = store.container(&bot.id).await.expect("reads").expect("recorded");
    assert_eq!(container.snapshot_id.as_deref(), Some("one"));
    assert_eq!(store.snapshot("one").await.expect("reads").data_size, 20);
}

#[tokio::test]
async fn snapshot_names_are_unique_per_bot_ignoring_case() {
    let (_dir, store) = temp_store();
    let a = store.bot_insert(name("A"), image()).await.expect("inserts");
    let b = store.bot_insert(name("B"), image()).await.expect("inserts");
    let nightly = Name::parse_snapshot("Nightly").expect("valid");
    store.snapshot_insert("A", &nightly, snapshot(&a.id, "s1", "Nightly", None)).await.expect("in");
    let shouted = Name::parse_snapshot("NIGHTLY").expect("valid");
    assert!(!store.snapshot_name_free(&a.id, &shouted).await.expect("reads"));
    assert!(store.snapshot_name_free(&b.id, &shouted).await.expect("reads"), "per bot");
    let again = store.snapshot_insert("A", &shouted, snapshot(&a.id, "s2", "NIGHTLY", None)).await;
    assert!(matches!(again, Err(Error::SnapshotNameTaken { ref name, .. }) if name == "NIGHTLY"));
    store.snapshot_insert("B", &shouted, snapshot(&b.id, "s3", "NIGHTLY", None)).await.expect("B");
}

#[tokio::test]
async fn deleting_a_snapshot_re_parents_its_children_and_the_container() {
    let (_dir, store) = temp_store();
    let bot = store.bot_insert(name("Tree"), image()).await.expect("inserts");
    store.container_set(&bot.id, record("c1")).await.expect("records");
    take(&store, &bot, "root", None).await;
    take(&store, &bot, "middle", Some("root")).await;
    take(&store, &bot, "left", Some("middle")).await;
    take(&store, &bot, "right", Some("middle")).await;
    // The container descends from the last one taken; make it descend from the middle.
    store.snapshot_delete("right").await.expect("deletes a leaf");
    let container = store.container(&bot.id).await.expect("reads").expect("recorded");
    assert_eq!(container.snapshot_id.as_deref(), Some("middle"), "back to the leaf's parent");

    store.snapshot_delete("middle").await.expect("deletes the middle");
    assert_eq!(store.snapshot("left").await.expect("reads").parent_id.as_deref(), Some("root"));
    let container = store.container(&bot.id).await.expect("reads").expect("recorded");
    assert_eq!(container.snapshot_id.as_deref(), Some("root"));

    store.snapshot_delete("root").await.expect("deletes the root");
    assert_eq!(store.snapshot("left").await.expect("reads").parent_id, None);
    assert!(matches!(store.snapshot_delete("root").await, Err(Error::SnapshotNotFound { .. })));
    let ids: Vec<_> =
        store.snapshots(&bot.id).await.expect("lists").into_iter().map(|s| s.id).collect();
    assert_eq!(ids, ["left"]);
}

#[tokio::test]
async fn a_restore_records_its_snapshot_and_the_new_data_volume() {
    let (_dir, store) = temp_store();
    let bot = store.bot_insert(name("Restored"), image()).await.expect("inserts");
    store.container_set(&bot.id, record("c1")).await.expect("records");
    store.version_record(&bot.id, VersionReason::Created).await.expect("first");
    take(&store, &bot, "good", None).await;
    assert_eq!(bot.data_volume(), format!("berth-data-{}", bot.id));

    let replacement = Replacement {
        snapshot: Some(("good".into(), "Good".into())),
        data_volume: Some("berth-data-x-1".into()),
    };
    let version = store
        .container_replace(&bot.id, record("c2"), VersionReason::Restored, replacement)
        .await
        .expect("replaced");
    assert_eq!((version.number, version.reason), (2, VersionReason::Restored));
    let listed = store.versions(&bot.id).await.expect("lists");
    assert_eq!(listed[0].snapshot_name.as_deref(), Some("Good"));
    assert_eq!(listed[1].snapshot_name, None);
    assert_eq!(store.bot(&bot.id).await.expect("reads").data_volume(), "berth-data-x-1");

    // The history keeps the snapshot's name after the snapshot is gone.
    store.snapshot_delete("good").await.expect("deletes");
    assert_eq!(
        store.versions(&bot.id).await.expect("lists")[0].snapshot_name.as_deref(),
        Some("Good")
    );
}
