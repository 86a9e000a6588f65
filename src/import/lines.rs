//! The line-based inputs (GDELT exports, NDJSON) read a row at a time: bounded lines, line
//! numbers for messages, a byte-order mark and blank lines skipped, a read failure reported once.

use std::io::{BufRead, Read};

use super::{ImportError, ImportStats, RowError, RowProblem, MAX_LINE_BYTES};

/// The rows of a line-based input.
pub(crate) struct Lines<R> {
    input: R,
    /// The 1-based number of the line read last.
    line: u64,
    /// The line read last, without its line break.
    buffer: Vec<u8>,
    /// Set after a read failure: the position in the input is unknown, so nothing more is read.
    failed: bool,
}

impl<R: BufRead> Lines<R> {
    pub(crate) fn new(input: R) -> Lines<R> {
        Lines {
            input,
            line: 0,
            buffer: Vec::new(),
            failed: false,
        }
    }

    /// The 1-based number of the line read last.
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// The next line that is not blank, counted as a row of `stats`. A line longer than
    /// [`MAX_LINE_BYTES`] is a row error (the rest of it is skipped unread, so a file without
    /// line breaks cannot fill memory); a read failure is yielded once and ends the rows.
    pub(crate) fn next_row(
        &mut self,
        stats: &mut ImportStats,
    ) -> Option<Result<&[u8], ImportError>> {
        while !self.failed {
            let complete = match self.read_line() {
                Ok(Some(complete)) => complete,
                Ok(None) => return None,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(ImportError::Io(e)));
                }
            };
            self.line += 1;
            if !complete {
                stats.rows += 1;
                stats.errors += 1;
                return Some(Err(ImportError::Row(RowError {
                    line: self.line,
                    reason: RowProblem::TooLong {
                        max: MAX_LINE_BYTES,
                    },
                })));
            }
            // Editors on Windows start a file with a byte-order mark; it is not part of the
            // first field.
            if self.line == 1 && self.buffer.starts_with(&[0xEF, 0xBB, 0xBF]) {
                self.buffer.drain(..3);
            }
            if !self.buffer.iter().all(u8::is_ascii_whitespace) {
                stats.rows += 1;
                return Some(Ok(&self.buffer));
            }
        }
        None
    }

    /// Reads one line into the buffer, at most [`MAX_LINE_BYTES`] of it. `None` at the end of
    /// the input; `Some(false)` when the line was too long and its rest was skipped.
    fn read_line(&mut self) -> std::io::Result<Option<bool>> {
        self.buffer.clear();
        let read = (&mut self.input)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut self.buffer)?;
        if read == 0 {
            return Ok(None);
        }
        if self.buffer.len() > MAX_LINE_BYTES && self.buffer.last() != Some(&b'\n') {
            self.input.skip_until(b'\n')?;
            self.buffer.clear();
            return Ok(Some(false));
        }
        while matches!(self.buffer.last(), Some(b'\n' | b'\r')) {
            self.buffer.pop();
        }
        Ok(Some(true))
    }
}
