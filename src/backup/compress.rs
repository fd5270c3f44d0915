//! Gzip members (flate2 with the zlib-rs backend). Each table is compressed as its own
//! member into a worker's spool file, an anonymous temporary file that vanishes with the
//! process, so a killed backup leaves nothing behind. Concatenated members are one valid gzip
//! stream for `gunzip` and for `MultiGzDecoder` (the plain `GzDecoder` stops after the first).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;

/// Where one member lies in a spool file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub spool: usize,
    pub offset: u64,
    pub len: u64,
}

/// An append-only anonymous temporary file holding finished gzip members.
pub struct Spool {
    id: usize,
    out: Counting<BufWriter<File>>,
}

impl Spool {
    /// A new spool in `dir` (the backup's folder, so the final copy stays on one file system).
    pub fn create(id: usize, dir: &Path) -> io::Result<Self> {
        let file = tempfile::tempfile_in(dir)?;
        Ok(Self {
            id,
            out: Counting {
                inner: BufWriter::with_capacity(1 << 20, file),
                count: 0,
            },
        })
    }

    /// Starts a member (level 0-9; above 9 means 9); write the text into it, then `finish` it.
    pub fn member(&mut self, level: u32) -> Member<'_> {
        let start = self.out.count;
        Member {
            spool: self.id,
            start,
            encoder: GzEncoder::new(&mut self.out, Compression::new(level.min(9))),
        }
    }

    /// Flushes and hands back the file for copying members out of it.
    pub fn into_file(self) -> io::Result<File> {
        self.out
            .inner
            .into_inner()
            .map_err(io::IntoInnerError::into_error)
    }
}

/// One gzip member being written.
pub struct Member<'a> {
    spool: usize,
    start: u64,
    encoder: GzEncoder<&'a mut Counting<BufWriter<File>>>,
}

impl Member<'_> {
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.encoder.write_all(bytes)
    }

    /// Ends the member and says where it lies.
    pub fn finish(self) -> io::Result<Extent> {
        let out = self.encoder.finish()?;
        Ok(Extent {
            spool: self.spool,
            offset: self.start,
            len: out.count - self.start,
        })
    }
}

/// Compresses `text` as one complete gzip member.
pub fn member_bytes(text: &[u8], level: u32) -> io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::new(level.min(9)));
    encoder.write_all(text)?;
    encoder.finish()
}

/// A writer that counts the bytes passed through it.
struct Counting<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Seek, SeekFrom};

    use flate2::read::MultiGzDecoder;

    use super::*;

    #[test]
    fn spool_members_concatenated_read_back_as_one_stream() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::create(0, dir.path()).unwrap();
        let mut extents = Vec::new();
        for text in ["first\n", "second\n"] {
            let mut member = spool.member(6);
            member.write(text.as_bytes()).unwrap();
            extents.push(member.finish().unwrap());
        }
        let mut file = spool.into_file().unwrap();
        let mut all = Vec::new();
        for extent in extents.iter().rev() {
            file.seek(SeekFrom::Start(extent.offset)).unwrap();
            let mut part = vec![0; usize::try_from(extent.len).unwrap()];
            file.read_exact(&mut part).unwrap();
            all.extend(part);
        }
        let mut text = String::new();
        MultiGzDecoder::new(&all[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "second\nfirst\n");
    }
}
