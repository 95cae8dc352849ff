//! Holds what a test prints, within a fixed budget per stream.
//!
//! A test that prints 200 MB must not cost tempo 200 MB. Past the cap, the head and
//! the tail are kept (the start usually says what the test was doing, the end how it
//! failed) and the bytes in between are only counted.

use std::collections::VecDeque;

use crate::events::CapturedOutput;

/// A capped capture buffer for one stream.
#[derive(Debug)]
pub struct CaptureBuf {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    half: usize,
    dropped: u64,
}

impl CaptureBuf {
    /// A buffer that keeps at most `cap` bytes.
    pub fn new(cap: usize) -> CaptureBuf {
        CaptureBuf { head: Vec::new(), tail: VecDeque::new(), half: cap / 2, dropped: 0 }
    }

    /// Appends bytes, dropping from the middle once the cap is reached.
    pub fn push(&mut self, mut data: &[u8]) {
        if self.head.len() < self.half {
            let n = data.len().min(self.half - self.head.len());
            self.head.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        if data.is_empty() {
            return;
        }
        if data.len() >= self.half {
            self.dropped += (self.tail.len() + data.len() - self.half) as u64;
            self.tail.clear();
            self.tail.extend(&data[data.len() - self.half..]);
            return;
        }
        let overflow = (self.tail.len() + data.len()).saturating_sub(self.half);
        self.tail.drain(..overflow);
        self.dropped += overflow as u64;
        self.tail.extend(data);
    }

    /// The kept output.
    pub fn finish(self) -> CapturedOutput {
        let mut bytes = self.head;
        if self.dropped > 0 {
            bytes.extend_from_slice(
                format!("\n[... tempo dropped {} bytes of output here ...]\n", self.dropped).as_bytes(),
            );
        }
        bytes.extend(self.tail);
        CapturedOutput { bytes, dropped: self.dropped }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_output_is_kept_whole() {
        let mut buf = CaptureBuf::new(100);
        buf.push(b"hello ");
        buf.push(b"world");
        let out = buf.finish();
        assert_eq!(out.bytes, b"hello world");
        assert_eq!(out.dropped, 0);
    }

    #[test]
    fn large_output_keeps_head_and_tail() {
        let mut buf = CaptureBuf::new(10);
        for chunk in [&b"abc"[..], b"defgh", b"ijklmnop", b"qr", b"stuvwxyz"] {
            buf.push(chunk);
        }
        let out = buf.finish();
        assert_eq!(out.dropped, 26 - 10);
        assert!(out.bytes.starts_with(b"abcde"));
        assert!(out.bytes.ends_with(b"vwxyz"));
    }

    #[test]
    fn one_huge_chunk_is_capped() {
        let mut buf = CaptureBuf::new(8);
        buf.push(&[b'x'; 1000]);
        buf.push(b"1234");
        let out = buf.finish();
        assert_eq!(out.dropped, 1004 - 8);
        assert!(out.bytes.starts_with(b"xxxx\n[..."));
        assert!(out.bytes.ends_with(b"]\n1234"));
    }
}
