//! Shared by the engine and end-to-end tests, which are separate crates.

/// A registry that accepts connections and never answers, so that a pull from it lasts until
/// it is cancelled. Connections stay open until the process ends.
pub fn silent_registry() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("bound").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    port
}
