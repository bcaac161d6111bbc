//! User flows in the real app window, driven over WebDriver through tauri-driver.
//!
//! Needs a display (`scripts/test` starts Xvfb), `tauri-driver` and `WebKitWebDriver`, a
//! Docker engine and the local registry's test image.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

#[path = "../common/silent_registry.rs"]
mod silent_registry;
use serde_json::{json, Value};
use silent_registry::silent_registry;

const TEST_LABEL: &str = "io.berth.test";

struct Session {
    client: Option<Client>,
    driver: Child,
    run: String,
    _data: tempfile::TempDir,
}

impl Session {
    /// Starts tauri-driver on free ports and opens the app through it, with its own data
    /// directory and a label on everything it creates.
    async fn launch() -> Session {
        assert!(
            std::env::var_os("DISPLAY").is_some(),
            "end-to-end tests need a display: run them through scripts/test"
        );
        let data = tempfile::tempdir().expect("temp dir");
        // One value per session: tests run in parallel and each cleans up only its own.
        static SESSIONS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = SESSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let run = format!("e2e-{}-{n}", std::process::id());
        let (port, native_port) = (free_port(), free_port());

        let driver = Command::new(tauri_driver())
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .env("BERTH_DATA_DIR", data.path())
            .env("BERTH_LABELS", format!("{TEST_LABEL}={run}"))
            .env("BERTH_SCRIPTED_DIALOGS", data.path().join("dialogs.txt"))
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("tauri-driver starts (cargo install tauri-driver)");
        wait_for_port(port);

        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("wry"));
        capabilities
            .insert("tauri:options".into(), json!({ "application": env!("CARGO_BIN_EXE_berth") }));
        let client = ClientBuilder::rustls()
            .expect("tls config")
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session on the app");

        let session = Session { client: Some(client), driver, run, _data: data };
        session.wait_for("body[data-ready=true]").await;
        session
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("session open")
    }

    /// Clicks the element; a redraw may replace it between finding and clicking, so a
    /// vanished element is looked up again.
    async fn click(&self, test_id: &str) {
        let css = format!("[data-test={test_id}]");
        let mut last_error = None;
        for _ in 0..5 {
            match self.wait_for(&css).await.click().await {
                Ok(()) => return,
                Err(e) => last_error = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("clicking {css}: {last_error:?}");
    }

    async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.client()
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("waiting for {css}: {e}"))
    }

    async fn text(&self, css: &str) -> Option<String> {
        let script = "const el = document.querySelector(arguments[0]); \
                      return el ? el.textContent : null;";
        match self.client().execute(script, vec![json!(css)]).await {
            Ok(Value::String(text)) => Some(text),
            _ => None,
        }
    }

    /// Waits until the element's text is `expected`, failing with what it was instead.
    async fn wait_for_text(&self, css: &str, expected: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut last = None;
        while Instant::now() < deadline {
            last = self.text(css).await;
            if last.as_deref() == Some(expected) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.screenshot("failure").await;
        panic!("{css} read {last:?}, expected {expected:?}");
    }

    /// Types into whatever has the keyboard focus, as a person would.
    async fn type_keys(&self, keys: &str) {
        let active = self.client().active_element().await.expect("a focused element");
        active.send_keys(keys).await.expect("types");
    }

    /// The `data-test` name of the focused element, or null.
    async fn focused(&self) -> Value {
        let script = "return document.activeElement?.dataset?.test ?? null";
        self.client().execute(script, vec![]).await.expect("reads focus")
    }

    /// Creates a bot through the New bot dialog and waits for its page.
    async fn create_bot(&self, name: &str, image: &str) {
        self.click("new-bot").await;
        let name_field = self.wait_for("[data-test=bot-name]").await;
        name_field.send_keys(name).await.expect("types the name");
        let image_field = self.wait_for("[data-test=bot-image]").await;
        image_field.send_keys(image).await.expect("types the image");
        self.click("submit-bot").await;
        self.wait_for_text("[data-test=bot-title]", name, Duration::from_secs(10)).await;
        self.wait_for_text("[data-test=state]", "No container", Duration::from_secs(10)).await;
    }

    /// The answers the app's next file dialogs give, in order: a path, or `None` to cancel.
    /// Needs the `scripted-dialogs` feature, which `scripts/test` builds with.
    fn answer_dialogs(&self, answers: &[Option<&std::path::Path>]) {
        let lines: String = answers
            .iter()
            .map(|a| format!("{}\n", a.map(|p| p.display().to_string()).unwrap_or_default()))
            .collect();
        std::fs::write(self._data.path().join("dialogs.txt"), lines).expect("dialog script");
    }

    /// The ids of the containers this session's app created that exist now.
    fn containers(&self) -> Vec<String> {
        let filter = format!("label={TEST_LABEL}={}", self.run);
        let out = Command::new("docker").args(["ps", "-aq", "--filter", &filter]).output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    async fn screenshot(&self, name: &str) {
        let Some(dir) = std::env::var_os("BERTH_E2E_SHOTS") else {
            return;
        };
        if let Ok(png) = self.client().screenshot().await {
            let path = PathBuf::from(dir).join(format!("{name}.png"));
            let _ = std::fs::write(path, png);
        }
    }

    async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = client.close().await;
        }
    }
}

impl Drop for Session {
    /// Stops the driver, the app it started, and removes the test's engine resources.
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.driver.wait();
        let filter = format!("label={TEST_LABEL}={}", self.run);
        for (list, remove) in [
            (vec!["ps", "-aq", "--filter", &filter], vec!["rm", "-f"]),
            (vec!["images", "-aq", "--filter", &filter], vec!["rmi", "-f"]),
            (vec!["volume", "ls", "-q", "--filter", &filter], vec!["volume", "rm", "-f"]),
        ] {
            let out = Command::new("docker").args(&list).output();
            let ids: Vec<String> = out
                .map(|o| String::from_utf8_lossy(&o.stdout).lines().map(str::to_owned).collect())
                .unwrap_or_default();
            if !ids.is_empty() {
                let _ = Command::new("docker").args(&remove).args(&ids).status();
            }
        }
    }
}

fn tauri_driver() -> PathBuf {
    let in_cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin").join("tauri-driver"));
    in_cargo_home.filter(|p| p.exists()).unwrap_or_else(|| PathBuf::from("tauri-driver"))
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound").port()
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("tauri-driver did not listen on port {port}");
}

fn test_image(tag: &str) -> String {
    let repo = std::env::var("BERTH_TEST_IMAGE")
        .unwrap_or_else(|_| "127.0.0.1:5000/berth-test/busybox".into());
    format!("{repo}:{tag}")
}

/// Records every value the progress bar takes, so the test sees the whole run.
const RECORD_BAR: &str = r#"
window.__berthBar = [];
new MutationObserver((records) => {
  for (const r of records) {
    if (r.target.matches('[data-test=progress-bar]')) {
      window.__berthBar.push(r.target.hasAttribute('value') ? Number(r.target.value) : null);
    }
  }
}).observe(document.getElementById('main'),
  { subtree: true, attributes: true, attributeFilter: ['value'] });
"#;

#[tokio::test]
async fn create_run_stop_and_delete_a_bot_in_the_window() {
    let image = test_image("pull");
    let _ = Command::new("docker").args(["rmi", "-f", &image]).output();
    let s = Session::launch().await;

    s.create_bot("E2E bot", &image).await;

    s.client().execute(RECORD_BAR, vec![]).await.expect("records the bar");
    s.click("create").await;
    s.wait_for_text("[data-test=state]", "Running", Duration::from_secs(60)).await;
    s.screenshot("running").await;
    s.wait_for_text("[data-test=version]", "1 · Created", Duration::from_secs(5)).await;

    // Live resources: a CPU figure needs two readings of the stats stream.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let cpu = s.text("[data-test=cpu]").await.unwrap_or_default();
        if cpu.ends_with(" %") {
            break;
        }
        assert!(Instant::now() < deadline, "no CPU figure, read {cpu:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let memory = s.text("[data-test=memory]").await.unwrap_or_default();
    assert!(memory.contains(" of "), "memory used of its limit: {memory:?}");
    let points = s.client().execute(
        "return document.querySelector('.sparkline polyline').getAttribute('points')",
        vec![],
    );
    let points = points.await.expect("reads the sparkline");
    assert!(points.as_str().is_some_and(|p| p.contains(',')), "a sparkline is drawn: {points}");

    let bar = s.client().execute("return window.__berthBar", vec![]).await.expect("bar values");
    let values: Vec<f64> =
        bar.as_array().expect("an array").iter().filter_map(Value::as_f64).collect();
    assert_eq!(values.last(), Some(&100.0), "the bar finished: {bar}");
    assert!(values.windows(2).all(|w| w[0] <= w[1]), "the bar went back: {bar}");

    s.click("update").await;
    s.click("confirm-update").await;
    let up_to_date = format!("`{image}` is up to date");
    s.wait_for_text("[data-test=notice] p", &up_to_date, Duration::from_secs(30)).await;
    s.wait_for_text("[data-test=version]", "1 · Created", Duration::from_secs(5)).await;

    // A reference the backend refuses stays in the dialog, with the reason under it.
    s.click("update").await;
    let field = s.wait_for("[data-test=update-image-ref]").await;
    field.clear().await.expect("clears the reference");
    field.send_keys("UPPER/case").await.expect("types");
    s.click("confirm-update").await;
    s.wait_for_text(
        "#update-image-error",
        "`UPPER/case` is not a valid image reference: repository names are lowercase",
        Duration::from_secs(10),
    )
    .await;
    let kept = s
        .client()
        .execute("return document.querySelector('[data-test=update-image-ref]').value", vec![]);
    assert_eq!(kept.await.expect("reads"), json!("UPPER/case"), "what was typed is kept");
    s.type_keys(&fantoccini::key::Key::Escape.to_string()).await;
    let closed = async {
        while s.text("dialog[open]").await.is_some() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), closed).await.expect("Escape closes it");

    s.click("stop").await;
    s.wait_for_text("[data-test=state]", "Stopped", Duration::from_secs(30)).await;
    s.click("start").await;
    s.wait_for_text("[data-test=state]", "Running", Duration::from_secs(30)).await;

    s.click("delete").await;
    s.click("confirm").await;
    s.wait_for_text("[data-test=state]", "No container", Duration::from_secs(30)).await;
    s.screenshot("deleted").await;
    s.close().await;
}

/// Runs a shell script in the session's only container and returns what it printed. A
/// restore removes the old container just after it is done: that is waited for.
fn exec_in(s: &Session, script: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut containers = s.containers();
    while containers.len() > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        containers = s.containers();
    }
    assert_eq!(containers.len(), 1, "one container: {containers:?}");
    let out = Command::new("docker")
        .args(["exec", &containers[0], "sh", "-c", script])
        .output()
        .expect("docker exec runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn take_a_snapshot_restore_it_and_see_the_new_version() {
    let s = Session::launch().await;
    s.create_bot("E2E snapshots", &test_image("latest")).await;
    s.click("create").await;
    s.wait_for_text("[data-test=state]", "Running", Duration::from_secs(60)).await;
    exec_in(&s, "echo before > /data/file && echo before > /etc/file");

    s.click("snapshot").await;
    let name = s.wait_for("[data-test=snapshot-name]").await;
    name.clear().await.expect("clears the suggested name");
    name.send_keys("Known good").await.expect("types the name");
    s.click("confirm-snapshot").await;
    s.wait_for_text("[data-test=snapshot-name]", "Known good", Duration::from_secs(60)).await;
    s.wait_for_text("[data-test=state]", "Running", Duration::from_secs(10)).await;

    exec_in(&s, "echo after > /data/file && echo after > /etc/file");
    s.click("restore").await;
    s.click("confirm-restore").await;
    let restored = "2 · Restored from Known good";
    s.wait_for_text("[data-test=version]", restored, Duration::from_secs(60)).await;
    s.wait_for_text(
        "[data-test=versions] li:first-child .history-label",
        restored,
        Duration::from_secs(10),
    )
    .await;
    s.wait_for_text("[data-test=state]", "Running", Duration::from_secs(10)).await;
    s.screenshot("restored").await;
    assert_eq!(exec_in(&s, "cat /data/file /etc/file"), "before\nbefore");

    // The state before the restore was saved under the snapshot it came from.
    let script = "return [...document.querySelectorAll('[data-test=snapshot-item]')] \
                  .map((li) => li.querySelector('[data-test=snapshot-name]').textContent \
                  + '@' + li.getAttribute('aria-level'))";
    let tree = s.client().execute(script, vec![]).await.expect("reads the tree");
    assert_eq!(tree, json!(["Known good@1", "Before restoring Known good@2"]));
    s.close().await;
}

#[cfg(feature = "scripted-dialogs")]
#[tokio::test]
async fn export_reset_and_import_bring_the_files_back() {
    let s = Session::launch().await;
    s.create_bot("E2E data", &test_image("latest")).await;
    s.click("create").await;
    s.wait_for_text("[data-test=state]", "Running", Duration::from_secs(60)).await;
    exec_in(
        &s,
        "mkdir -p /data/sub && echo one > /data/a && echo two > /data/sub/b \
        && ln -s sub/b /data/link",
    );
    let listing = "cd /data && find . | sort && cat a sub/b link";
    let before = exec_in(&s, listing);
    assert!(before.contains("./sub/b") && before.ends_with("two\ntwo"), "{before}");

    let dir = tempfile::tempdir().expect("temp dir");
    s.answer_dialogs(&[Some(&dir.path().join("backup"))]);
    s.click("export-data").await;
    let archive = dir.path().join("backup.tar.gz");
    let exported = format!("Exported to {}", archive.display());
    s.wait_for_text("[data-test=notice] p", &exported, Duration::from_secs(60)).await;

    s.click("reset-data").await;
    s.click("confirm-reset").await;
    s.wait_for_text("[data-test=snapshot-item] .badge", "current", Duration::from_secs(30)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !exec_in(&s, "ls -A /data").is_empty() {
        assert!(Instant::now() < deadline, "the data directory was not emptied");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    s.answer_dialogs(&[Some(&archive)]);
    s.click("import-data").await;
    s.click("confirm-import").await;
    let imported = format!("Imported {}", archive.display());
    s.wait_for_text("[data-test=notice] p", &imported, Duration::from_secs(60)).await;
    s.screenshot("imported").await;
    assert_eq!(exec_in(&s, listing), before, "the files are back");
    s.close().await;
}

#[tokio::test]
async fn launching_again_shows_the_running_window_instead() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "one instance per data directory needs a D-Bus session bus: run through scripts/test"
    );
    let s = Session::launch().await;
    s.create_bot("Only one", &test_image("latest")).await;

    let started = Instant::now();
    let mut second = Command::new(env!("CARGO_BIN_EXE_berth"))
        .env("BERTH_DATA_DIR", s._data.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("a second launch starts");
    let status = loop {
        if let Some(status) = second.try_wait().expect("waits") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = second.kill();
            panic!("the second launch kept running beside the first");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "the second launch ends quietly: {status}");

    // The first one heard it, and goes on as before.
    let logs = s._data.path().join("logs");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text: String = std::fs::read_dir(&logs)
            .map(|d| d.flatten().filter_map(|e| std::fs::read_to_string(e.path()).ok()).collect())
            .unwrap_or_default();
        if text.contains("shown for another launch") {
            break;
        }
        assert!(Instant::now() < deadline, "the running window was not shown");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    s.wait_for_text("[data-test=bot-title]", "Only one", Duration::from_secs(5)).await;
    s.close().await;
}

#[tokio::test]
async fn a_refused_name_says_why_in_the_form() {
    let s = Session::launch().await;
    s.click("new-bot").await;
    s.wait_for("[data-test=bot-name]").await.send_keys("   ").await.expect("types");
    s.wait_for("[data-test=bot-image]").await.send_keys("busybox").await.expect("types");
    s.click("submit-bot").await;
    s.wait_for_text(
        "#bot-name-error",
        "invalid bot name: a name is required",
        Duration::from_secs(10),
    )
    .await;

    let name = s.wait_for("[data-test=bot-name]").await;
    name.send_keys("Fine name").await.expect("types");
    let image = s.wait_for("[data-test=bot-image]").await;
    image.send_keys(" with space").await.expect("types");
    s.click("submit-bot").await;
    s.wait_for_text(
        "#bot-image-error",
        "`busybox with space` is not a valid image reference: it cannot hold spaces",
        Duration::from_secs(10),
    )
    .await;
    s.close().await;
}

#[tokio::test]
async fn reload_during_create_follows_it_and_cancel_leaves_nothing() {
    let image = format!("127.0.0.1:{}/berth-test/never:latest", silent_registry());
    let s = Session::launch().await;
    s.create_bot("Reloaded", &image).await;

    s.click("create").await;
    s.wait_for("[data-test=progress-bar]").await;
    let reload = "document.body.dataset.ready = ''; location.reload();";
    s.client().execute(reload, vec![]).await.expect("reloads");
    s.wait_for("body[data-ready=true]").await;

    s.wait_for("[data-test=progress-bar]").await;
    s.wait_for_text("[data-test=progress-phase]", "Pulling image", Duration::from_secs(10)).await;
    s.wait_for_text("[data-test=state]", "Creating…", Duration::from_secs(10)).await;
    s.screenshot("reloaded-during-create").await;
    let create = s.wait_for("[data-test=create]").await;
    let disabled = create.attr("disabled").await.expect("reads disabled");
    assert!(disabled.is_some(), "Create is disabled while the create runs");

    s.click("cancel").await;
    s.wait_for_text("[data-test=state]", "No container", Duration::from_secs(30)).await;
    assert!(s.containers().is_empty(), "a cancelled create leaves no container");
    s.close().await;
}

#[tokio::test]
async fn keyboard_alone_creates_a_bot_and_enter_never_confirms_a_delete() {
    use fantoccini::key::Key;
    let s = Session::launch().await;
    s.type_keys(&(Key::Control + "n")).await;
    s.wait_for("dialog[open] [data-test=bot-name]").await;
    s.type_keys(&format!("Keys{}{}{}", Key::Tab, test_image("latest"), Key::Enter)).await;
    s.wait_for_text("[data-test=bot-title]", "Keys", Duration::from_secs(10)).await;
    s.wait_for_text("[data-test=state]", "No container", Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.focused().await, json!("create"), "focus moves to Create");

    s.type_keys(&Key::Enter.to_string()).await;
    s.wait_for_text("[data-test=state]", "Running", Duration::from_secs(60)).await;

    s.client().execute("document.querySelector('[data-test=delete]').focus()", vec![]).await.ok();
    s.type_keys(&Key::Enter.to_string()).await;
    s.wait_for("dialog[open] [data-test=confirm]").await;
    s.type_keys(&Key::Enter.to_string()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let open = s.client().execute("return !!document.querySelector('dialog[open]')", vec![]).await;
    assert_eq!(open.expect("reads dialogs"), json!(false), "Enter closed the dialog");
    s.wait_for_text("[data-test=state]", "Running", Duration::from_secs(5)).await;
    s.close().await;
}
