//! Copies between a container and a file on the host, streamed, with the byte count reported
//! to the operation and a cancel honoured. Snapshots and data archives both move their bytes
//! through here.
//!
//! The engine's side runs on the async runtime; the file's side (hashing, gzip, tar reading)
//! runs on a blocking thread, so that neither holds the other up and nothing is held in
//! memory beyond a few chunks.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::operations::{OperationHandle, Transfer};

/// How often a copy's byte count reaches the operation's readers.
const TICK: Duration = Duration::from_millis(50);

/// The size of the pieces files are read in, and of their write buffers.
pub(crate) const CHUNK: usize = 256 * 1024;

/// How many chunks may wait between the two sides.
const QUEUED: usize = 16;

/// Streams the tar of `path` in the container to `consume`, which reads it on a blocking
/// thread; returns what `consume` returns. The total is not known beforehand.
pub(crate) async fn download<T: Send + 'static>(
    engine: &Engine,
    container: &str,
    path: &str,
    op: &OperationHandle,
    consume: impl FnOnce(&mut ChunkReader) -> Result<T> + Send + 'static,
) -> Result<T> {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(QUEUED);
    let consumer = tokio::task::spawn_blocking(move || {
        let mut reader = ChunkReader { chunks: receiver, pending: Bytes::new() };
        consume(&mut reader)
    });

    let mut stream = std::pin::pin!(engine.download(container, path));
    let mut done = 0u64;
    let copied = loop {
        let chunk = tokio::select! {
            chunk = stream.next() => chunk,
            () = op.cancel_token().cancelled() => break op.check_cancelled(),
        };
        let chunk = match chunk {
            None => break Ok(()),
            Some(Ok(chunk)) => chunk,
            Some(Err(error)) => break Err(error),
        };
        done += chunk.len() as u64;
        op.report(|p| p.transfer = Some(Transfer { done, total: None }));
        if sender.send(chunk).await.is_err() {
            break Ok(()); // The consumer stopped: its error says why.
        }
    };
    drop(sender);
    let consumed = consumer.await.map_err(|_| Error::ShuttingDown)?;
    copied?;
    consumed
}

/// The chunks of a download as a `Read`, for the blocking side.
pub(crate) struct ChunkReader {
    chunks: tokio::sync::mpsc::Receiver<Bytes>,
    pending: Bytes,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pending.is_empty() {
            match self.chunks.blocking_recv() {
                Some(chunk) => self.pending = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending.split_to(n));
        Ok(n)
    }
}

/// Streams the file into the container at `dest` (the engine unpacks a tar, gzip or not),
/// reporting bytes against `total`. With `expected`, the file's SHA-256 is checked on the
/// way and a mismatch fails the upload before it ends.
///
/// The outer error is the engine's or a cancel; the inner one says why the file itself could
/// not be used (unreadable, or not what it was), for the caller to name.
pub(crate) async fn upload(
    engine: &Engine,
    (container, dest): (&str, &str),
    file: &Path,
    total: u64,
    expected: Option<String>,
    op: &OperationHandle,
) -> Result<std::result::Result<(), String>> {
    let (source, cancel) = (file.to_owned(), op.cancel_token().clone());
    upload_with(engine, (container, dest), total, op, move |out, counter| {
        let mut file = std::fs::File::open(&source)
            .map_err(|error| format!("the file cannot be opened: {error}"))?;
        let mut hash = Sha256::new();
        let mut buffer = vec![0; CHUNK];
        loop {
            if cancel.is_cancelled() {
                return Ok(()); // The upload ends short, and the operation says cancelled.
            }
            let read = match file.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => read,
                Err(error) => return Err(format!("the file cannot be read: {error}")),
            };
            if expected.is_some() {
                hash.update(&buffer[..read]);
            }
            counter.fetch_add(read as u64, Ordering::Relaxed);
            if out.write_all(&buffer[..read]).is_err() {
                return Ok(()); // The upload stopped taking bytes: its own error says why.
            }
        }
        if expected.is_some_and(|sum| hex(&hash.finalize()) != sum) {
            return Err("the file has changed since it was saved".to_owned());
        }
        Ok(())
    })
    .await
}

/// Streams into the container at `dest` the tar that `produce` writes on a blocking thread,
/// reporting the bytes it counts against `total`. `produce` ends with why its source could
/// not be used, if it could not; the upload then fails too, and that reason is the inner
/// error.
///
/// A cancel is for `produce` to honour, by ending early: the upload is then waited for,
/// so that the engine has stopped writing before anyone puts the old content back.
pub(crate) async fn upload_with(
    engine: &Engine,
    (container, dest): (&str, &str),
    total: u64,
    op: &OperationHandle,
    produce: impl FnOnce(&mut ChunkWriter, &AtomicU64) -> std::result::Result<(), String>
        + Send
        + 'static,
) -> Result<std::result::Result<(), String>> {
    let sent = Arc::new(AtomicU64::new(0));
    let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(QUEUED);
    let counter = Arc::clone(&sent);
    let producer = tokio::task::spawn_blocking(move || {
        let mut out = ChunkWriter { sender, pending: Vec::with_capacity(CHUNK) };
        let produced = produce(&mut out, &counter).map(|()| {
            // A failed flush means the upload stopped: its own error says why.
            let _ = out.flush();
        });
        if let Err(reason) = &produced {
            let _ = out.sender.blocking_send(Err(std::io::Error::other(reason.clone())));
        }
        produced
    });
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });

    let uploaded = reporting(engine.upload(container, dest, body), &sent, Some(total), op).await;
    let produced = producer.await.map_err(|_| Error::ShuttingDown)?;
    op.check_cancelled()?;
    if produced.is_err() {
        return Ok(produced);
    }
    uploaded.map(Ok)
}

/// The blocking side of an upload: what is written goes to the engine in chunks.
pub(crate) struct ChunkWriter {
    sender: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    pending: Vec<u8>,
}

impl Write for ChunkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= CHUNK {
            self.flush()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK)));
        self.sender.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the engine stopped reading")
        })
    }
}

/// Runs `work` while reporting the bytes `count` reached, until it ends or is cancelled.
pub(crate) async fn with_transfer<T>(
    work: impl std::future::Future<Output = Result<T>>,
    count: &AtomicU64,
    total: Option<u64>,
    op: &OperationHandle,
) -> Result<T> {
    let cancelled = async {
        op.cancel_token().cancelled().await;
        op.check_cancelled()
    };
    tokio::select! {
        result = reporting(work, count, total, op) => result,
        Err(cancelled) = cancelled => Err(cancelled),
    }
}

/// Runs `work` to its end while reporting the bytes `count` reached.
async fn reporting<T>(
    work: impl std::future::Future<Output = Result<T>>,
    count: &AtomicU64,
    total: Option<u64>,
    op: &OperationHandle,
) -> Result<T> {
    let mut work = std::pin::pin!(work);
    let mut tick = tokio::time::interval(TICK);
    let report = || {
        let done = count.load(Ordering::Relaxed);
        op.report(|p| p.transfer = Some(Transfer { done, total }));
    };
    loop {
        tokio::select! {
            result = &mut work => {
                report();
                return result;
            }
            _ = tick.tick() => report(),
        }
    }
}

/// Removes a file Berth wrote; one already gone is fine, and a failure is logged: the work's
/// own outcome is what the user needs to see.
pub(crate) fn remove_file(path: &Path) {
    if let Err(error) = std::fs::remove_file(path) {
        if error.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), %error, "could not remove a file");
        }
    }
}

pub(crate) fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.display().to_string();
    move |source| Error::Io { action, path, source }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_and_padded() {
        assert_eq!(hex(&[0x00, 0x0f, 0xab]), "000fab");
    }

    #[test]
    fn chunks_read_back_whole_whatever_the_buffer() {
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        for chunk in [&b"ab"[..], b"", b"cdefg"] {
            sender.try_send(Bytes::from_static(chunk)).expect("queued");
        }
        drop(sender);
        let mut reader = ChunkReader { chunks: receiver, pending: Bytes::new() };
        let mut read = Vec::new();
        let mut buffer = [0u8; 3];
        loop {
            let n = reader.read(&mut buffer).expect("reads");
            if n == 0 {
                break;
            }
            read.extend_from_slice(&buffer[..n]);
        }
        assert_eq!(read, b"abcdefg");
    }
}
