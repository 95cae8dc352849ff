//! Length-prefixed frames over TCP, a tiny echo server on localhost, retry
//! with exponential backoff, and a request pacer. Tests of this crate spend
//! most of their time waiting (sleeps, socket timeouts), not computing.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Largest payload a frame may carry.
pub const MAX_FRAME: usize = 1 << 20;

#[derive(Debug, PartialEq, Eq)]
pub enum FrameError {
    TooLarge(usize),
}

/// Encodes `payload` as a 4-byte big-endian length followed by the bytes.
pub fn encode(payload: &[u8]) -> Result<Vec<u8>, FrameError> {
    if payload.len() > MAX_FRAME {
        return Err(FrameError::TooLarge(payload.len()));
    }
    let mut out = Vec::with_capacity(4 + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// Decodes one frame from the front of `buf`: `Ok(None)` if more bytes are
/// needed, otherwise the payload and the number of bytes consumed.
pub fn decode(buf: &[u8]) -> Result<Option<(Vec<u8>, usize)>, FrameError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    if buf.len() < 4 + len {
        return Ok(None);
    }
    Ok(Some((buf[4..4 + len].to_vec(), 4 + len)))
}

/// Reads exactly one frame from a stream.
pub fn read_frame(stream: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "frame too large"));
    }
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload)?;
    Ok(payload)
}

pub fn write_frame(stream: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let bytes = encode(payload).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    stream.write_all(&bytes)?;
    stream.flush()
}

/// An echo server bound to an ephemeral localhost port. Every frame it
/// receives is sent back after `delay`.
pub struct EchoServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl EchoServer {
    pub fn start(delay: Duration) -> io::Result<EchoServer> {
        Self::start_on("127.0.0.1:0".parse().unwrap(), delay)
    }

    pub fn start_on(addr: SocketAddr, delay: Duration) -> io::Result<EchoServer> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let handle = thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        thread::spawn(move || serve(stream, delay));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(2));
                    }
                    Err(_) => break,
                }
            }
        });
        Ok(EchoServer { addr, stop, handle: Some(handle) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections and closes the listening socket.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}

fn serve(mut stream: TcpStream, delay: Duration) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    while let Ok(frame) = read_frame(&mut stream) {
        thread::sleep(delay);
        if write_frame(&mut stream, &frame).is_err() {
            break;
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// One request/response round trip, bounded by `timeout` for connect, write
/// and read.
pub fn request(addr: SocketAddr, payload: &[u8], timeout: Duration) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write_frame(&mut stream, payload)?;
    read_frame(&mut stream)
}

/// Exponential backoff: base, base*factor, base*factor^2, ... capped at max.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub base: Duration,
    pub factor: u32,
    pub max: Duration,
}

impl Backoff {
    pub fn delay(&self, attempt: u32) -> Duration {
        let mut d = self.base;
        for _ in 0..attempt {
            d = d.saturating_mul(self.factor);
            if d >= self.max {
                return self.max;
            }
        }
        d.min(self.max)
    }

    pub fn schedule(&self, attempts: u32) -> Vec<Duration> {
        (0..attempts).map(|a| self.delay(a)).collect()
    }
}

/// Calls `op` up to `attempts` times, sleeping per `backoff` between failures.
pub fn retry<T, E>(backoff: &Backoff, attempts: u32, mut op: impl FnMut(u32) -> Result<T, E>) -> Result<T, E> {
    let mut attempt = 0;
    loop {
        match op(attempt) {
            Ok(v) => return Ok(v),
            Err(e) if attempt + 1 >= attempts => return Err(e),
            Err(_) => {
                thread::sleep(backoff.delay(attempt));
                attempt += 1;
            }
        }
    }
}

/// Lets at most one caller through per `interval`, sleeping as needed.
pub struct Pacer {
    interval: Duration,
    next: Option<Instant>,
}

impl Pacer {
    pub fn new(interval: Duration) -> Pacer {
        Pacer { interval, next: None }
    }

    pub fn wait(&mut self) {
        let now = Instant::now();
        if let Some(next) = self.next {
            if next > now {
                thread::sleep(next - now);
            }
        }
        self.next = Some(Instant::now().max(self.next.unwrap_or(now)) + self.interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_prefixes_length() {
        assert_eq!(encode(b"hi").unwrap(), vec![0, 0, 0, 2, b'h', b'i']);
    }

    #[test]
    fn encode_empty_frame() {
        assert_eq!(encode(b"").unwrap(), vec![0, 0, 0, 0]);
    }

    #[test]
    fn encode_rejects_oversized() {
        assert_eq!(encode(&vec![0; MAX_FRAME + 1]), Err(FrameError::TooLarge(MAX_FRAME + 1)));
    }

    #[test]
    fn decode_needs_header() {
        assert_eq!(decode(&[0, 0]), Ok(None));
    }

    #[test]
    fn decode_needs_payload() {
        assert_eq!(decode(&[0, 0, 0, 3, 1]), Ok(None));
    }

    #[test]
    fn decode_round_trip() {
        let bytes = encode(b"payload").unwrap();
        assert_eq!(decode(&bytes), Ok(Some((b"payload".to_vec(), 11))));
    }

    #[test]
    fn decode_leaves_trailing_bytes() {
        let mut bytes = encode(b"one").unwrap();
        bytes.extend(encode(b"two").unwrap());
        let (first, used) = decode(&bytes).unwrap().unwrap();
        assert_eq!(first, b"one");
        assert_eq!(decode(&bytes[used..]).unwrap().unwrap().0, b"two");
    }

    #[test]
    fn decode_rejects_oversized_header() {
        assert_eq!(decode(&[0xff, 0xff, 0xff, 0xff]), Err(FrameError::TooLarge(u32::MAX as usize)));
    }

    #[test]
    fn read_frame_from_memory() {
        let bytes = encode(b"abc").unwrap();
        assert_eq!(read_frame(&mut &bytes[..]).unwrap(), b"abc");
    }

    #[test]
    fn read_frame_reports_truncation() {
        let bytes = [0, 0, 0, 9, 1, 2];
        assert_eq!(read_frame(&mut &bytes[..]).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn write_frame_to_memory() {
        let mut out = Vec::new();
        write_frame(&mut out, b"xyz").unwrap();
        assert_eq!(out, encode(b"xyz").unwrap());
    }

    #[test]
    fn backoff_doubles() {
        let b = Backoff { base: Duration::from_millis(10), factor: 2, max: Duration::from_secs(1) };
        assert_eq!(
            b.schedule(4),
            [10, 20, 40, 80].map(Duration::from_millis).to_vec()
        );
    }

    #[test]
    fn backoff_is_capped() {
        let b = Backoff { base: Duration::from_millis(300), factor: 3, max: Duration::from_secs(1) };
        assert_eq!(b.delay(5), Duration::from_secs(1));
    }

    #[test]
    fn retry_returns_first_success_without_sleeping() {
        let b = Backoff { base: Duration::from_secs(60), factor: 2, max: Duration::from_secs(60) };
        assert_eq!(retry(&b, 3, Ok::<u32, ()>), Ok(0));
    }

    #[test]
    fn retry_gives_up_after_attempts() {
        let b = Backoff { base: Duration::from_millis(1), factor: 1, max: Duration::from_millis(1) };
        let mut calls = 0;
        let r: Result<(), u32> = retry(&b, 4, |a| {
            calls += 1;
            Err(a)
        });
        assert_eq!((r, calls), (Err(3), 4));
    }

    #[test]
    fn first_pacer_wait_is_immediate() {
        let start = Instant::now();
        Pacer::new(Duration::from_secs(60)).wait();
        assert!(start.elapsed() < Duration::from_secs(1));
    }
}
