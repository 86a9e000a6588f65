//! A reader that turns CRLF line endings into LF, for the CSV parser.
//!
//! ACLED exports often come with Windows line endings. The CSV parser ends a record at the CR
//! and counts the LF into the next record, so every row of such a file was reported one line
//! early. Reading LF endings avoids that, and a line break inside a quoted field reads the same
//! in both kinds of file. A CR not followed by LF is kept as it is.

use std::io::{self, Read};

/// Reads `inner` with every CR LF pair replaced by LF, in constant memory.
pub struct CrlfToLf<R> {
    inner: R,
    buffer: Box<[u8]>,
    start: usize,
    end: usize,
    /// A CR was read last and is held until the next byte shows whether an LF follows.
    held_cr: bool,
}

impl<R: Read> CrlfToLf<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> CrlfToLf<R> {
        CrlfToLf {
            inner,
            buffer: vec![0; 64 * 1024].into_boxed_slice(),
            start: 0,
            end: 0,
            held_cr: false,
        }
    }
}

impl<R: Read> Read for CrlfToLf<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.start == self.end {
                self.end = self.inner.read(&mut self.buffer)?;
                self.start = 0;
                if self.end == 0 {
                    if self.held_cr {
                        self.held_cr = false;
                        out[0] = b'\r';
                        return Ok(1);
                    }
                    return Ok(0);
                }
            }
            let mut written = 0;
            while written < out.len() && self.start < self.end {
                let byte = self.buffer[self.start];
                if self.held_cr {
                    self.held_cr = false;
                    if byte != b'\n' {
                        // A lone CR: give it back, then look at this byte again.
                        out[written] = b'\r';
                        written += 1;
                        continue;
                    }
                }
                self.start += 1;
                if byte == b'\r' {
                    self.held_cr = true;
                } else {
                    out[written] = byte;
                    written += 1;
                }
            }
            if written > 0 {
                return Ok(written);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out one byte at a time, so every CR lands at a buffer's end.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), out.first_mut()) {
                (Some((byte, rest)), Some(slot)) => {
                    *slot = *byte;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    fn convert(input: &[u8], trickle: bool, out_size: usize) -> Vec<u8> {
        let mut reader: Box<dyn Read> = if trickle {
            Box::new(CrlfToLf::new(Trickle(input)))
        } else {
            Box::new(CrlfToLf::new(input))
        };
        let mut result = Vec::new();
        let mut chunk = vec![0; out_size];
        loop {
            let n = reader.read(&mut chunk).expect("read");
            if n == 0 {
                return result;
            }
            result.extend_from_slice(&chunk[..n]);
        }
    }

    #[test]
    fn crlf_becomes_lf_and_lone_crs_stay_whatever_the_chunking() {
        let input = b"a,b\r\n\"x\r\ny\",2\r\nlone\rcr\r\r\n\r";
        let expected = b"a,b\n\"x\ny\",2\nlone\rcr\r\n\r".to_vec();
        for trickle in [false, true] {
            for out_size in [1, 2, 3, 64] {
                assert_eq!(
                    convert(input, trickle, out_size),
                    expected,
                    "{trickle} {out_size}"
                );
            }
        }
    }
}
