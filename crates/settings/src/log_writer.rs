//! Where log lines go: appended to one shared buffer, which a thread writes out in batches.
//!
//! Why not a channel to a writer thread (`tracing-appender`): it allocates every line and wakes
//! the writer thread for nearly every one of them, a context switch per request at the gateway's
//! rates (the access log writes a line per request). Here a line is one copy under a lock; the
//! thread is woken only when the buffer goes from empty to not empty, then gathers lines for
//! [`GATHER`] before it writes them with one `write`, so under load it wakes a few hundred times
//! a second whatever the rate. Never lossy: a writer waits while [`MAX_BUFFERED`] bytes wait
//! (the sink is stuck). Lines reach the sink at most [`GATHER`] late; dropping the
//! [`LogWriterGuard`] writes out the rest.

use std::io::{self, Write};
use std::mem;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long the thread gathers lines before it writes them.
const GATHER: Duration = Duration::from_millis(5);
/// Bytes waiting before the thread writes at once without gathering longer.
const WRITE_AT: usize = 256 * 1024;
/// Bytes waiting before a line waits for room.
const MAX_BUFFERED: usize = 8 * 1024 * 1024;

#[derive(Default)]
struct State {
    lines: Vec<u8>,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Lines arrived in an empty buffer, or the guard was dropped.
    lines_waiting: Condvar,
    /// The thread took the buffer: there is room again.
    room: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while appending leaves at worst a partial line: the buffer stays usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The `MakeWriter` for the fmt layer: each line is appended to the shared buffer.
#[derive(Clone)]
pub(crate) struct LogWriter {
    shared: Arc<Shared>,
}

/// Writes out every line still buffered, and stops the thread, when dropped.
pub(crate) struct LogWriterGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LogWriterGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriterGuard").finish_non_exhaustive()
    }
}

/// A writer for log lines and the guard of its thread, which writes them to `sink`.
///
/// # Errors
/// When the thread cannot be started.
pub(crate) fn log_writer(sink: impl Write + Send + 'static) -> io::Result<(LogWriter, LogWriterGuard)> {
    let shared = Arc::new(Shared::default());
    let thread = std::thread::Builder::new().name("log-writer".into()).spawn({
        let shared = shared.clone();
        move || write_batches(&shared, sink)
    })?;
    Ok((LogWriter { shared: shared.clone() }, LogWriterGuard { shared, thread: Some(thread) }))
}

fn write_batches(shared: &Shared, mut sink: impl Write) {
    let mut batch = Vec::new();
    loop {
        let mut state = shared.lock();
        while state.lines.is_empty() && !state.closed {
            state = shared.lines_waiting.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        if !state.closed && state.lines.len() < WRITE_AT {
            // Let the lines of the next few milliseconds join this write.
            drop(state);
            std::thread::sleep(GATHER);
            state = shared.lock();
        }
        // The two buffers swap: each keeps its capacity, so steady logging allocates nothing.
        mem::swap(&mut batch, &mut state.lines);
        let closed = state.closed;
        drop(state);
        shared.room.notify_all();
        // Nowhere to report a failed log write but the log itself: the lines are dropped.
        let _ = sink.write_all(&batch).and_then(|()| sink.flush());
        batch.clear();
        if closed && shared.lock().lines.is_empty() {
            return;
        }
    }
}

impl LogWriter {
    fn append(&self, line: &[u8]) {
        let mut state = self.shared.lock();
        while state.lines.len() >= MAX_BUFFERED && !state.closed {
            self.shared.lines_waiting.notify_one();
            state = self.shared.room.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        let was_empty = state.lines.is_empty();
        state.lines.extend_from_slice(line);
        drop(state);
        if was_empty {
            self.shared.lines_waiting.notify_one();
        }
    }
}

impl Write for LogWriter {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        self.append(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Drop for LogWriterGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.lines_waiting.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink the test can read while the writer thread owns it.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_of_every_thread_is_written_whole_and_in_its_threads_order() {
        let sink = Sink::default();
        let (writer, guard) = log_writer(sink.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for n in 0..5_000 {
                        writer.make_writer().write_all(format!("{t} {n}\n").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        drop(guard);

        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let mut next = [0u32; 4];
        for line in text.lines() {
            let (t, n) = line.split_once(' ').unwrap();
            let t: usize = t.parse().unwrap();
            assert_eq!(n.parse::<u32>().unwrap(), next[t], "thread {t}'s lines in order, none lost");
            next[t] += 1;
        }
        assert_eq!(next, [5_000; 4]);
    }

    #[test]
    fn a_line_reaches_the_sink_without_the_guard_being_dropped() {
        let sink = Sink::default();
        let (writer, _guard) = log_writer(sink.clone()).unwrap();
        writer.make_writer().write_all(b"one line\n").unwrap();
        // Bounded: the thread writes within GATHER of being woken.
        for _ in 0..400 {
            if sink.0.lock().unwrap().as_slice() == b"one line\n" {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("the line was not written within 2 s");
    }

    /// A sink that blocks until the test lets it go.
    struct Stuck(Arc<(Mutex<bool>, Condvar)>, Sink);

    impl Write for Stuck {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let (open, turned) = &*self.0;
            let mut open = open.lock().unwrap();
            while !*open {
                open = turned.wait(open).unwrap();
            }
            self.1.write(bytes)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stuck_sink_makes_writers_wait_instead_of_dropping_lines() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let sink = Sink::default();
        let (writer, guard) = log_writer(Stuck(gate.clone(), sink.clone())).unwrap();
        let line = vec![b'x'; 1024 * 1024 - 1];
        let logger = std::thread::spawn(move || {
            for _ in 0..(3 * MAX_BUFFERED / line.len()) {
                let mut out = writer.make_writer();
                out.write_all(&line).unwrap();
                out.write_all(b"\n").unwrap();
            }
        });
        // The logger fills the buffer and then waits for room: it cannot finish while the sink
        // is stuck.
        while !logger.is_finished() && guard.shared.lock().lines.len() < MAX_BUFFERED {
            std::thread::yield_now();
        }
        assert!(!logger.is_finished(), "the logger waits for room");
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        logger.join().unwrap();
        drop(guard);
        assert_eq!(sink.0.lock().unwrap().len(), 3 * MAX_BUFFERED, "every byte written");
    }
}
