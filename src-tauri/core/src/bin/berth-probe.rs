//! Test builds only (feature `crash-points`): runs one operation on a store, to be killed at
//! a journal step by `BERTH_CRASH_AT`, so that the engine tests can check the repair at the
//! next start.
//!
//! `berth-probe <store> <label> <operation> <bot> [arg]`, the operation one of create, snapshot,
//! restore, update, reset, export, import-replace and import-merge.

use std::collections::BTreeMap;
use std::path::PathBuf;

use berth_core::data::ImportMode;
use berth_core::{Berth, Config};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [store, label, operation, bot, rest @ ..] = args.as_slice() else {
        eprintln!("usage: berth-probe <store> <label> <operation> <bot> [arg]");
        std::process::exit(2);
    };
    let arg = rest.first().map(String::as_str).unwrap_or_default();
    let mut config = Config::new(PathBuf::from(store));
    config.labels = BTreeMap::from([("io.berth.test".to_owned(), label.clone())]);
    config.stop_grace_secs = 2;
    let berth = Berth::start(config).await.expect("berth starts");
    berth.engine_settled().await;

    let watcher = match operation.as_str() {
        "create" => berth.container_create(bot).await,
        "snapshot" => berth.snapshot_create(bot, arg).await,
        "restore" => berth.snapshot_restore(bot, arg, None).await,
        "update" => berth.container_update_image(bot, None).await,
        "reset" => berth.data_reset(bot, None).await,
        "export" => berth.data_export(bot, arg.as_ref()).await,
        "import-replace" => berth.data_import(bot, arg.as_ref(), ImportMode::Replace, None).await,
        "import-merge" => berth.data_import(bot, arg.as_ref(), ImportMode::Merge, None).await,
        other => panic!("unknown operation {other}"),
    }
    .expect("the operation starts");
    watcher
        .forward(|event| {
            eprintln!("{event:?}");
            true
        })
        .await;
    // Reaching here means the crash point was never reached.
    std::process::exit(3);
}
