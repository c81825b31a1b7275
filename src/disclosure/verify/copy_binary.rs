//! A reader of PostgreSQL's binary COPY format (`COPY … TO STDOUT (FORMAT binary)`) that
//! hands out each tuple's fields as slices of the bytes received: nothing is copied or
//! allocated per tuple (a tuple split over two reads is put together once).
//!
//! The format: an 11-byte signature, 32-bit flags (bit 16: OIDs included, which this reader
//! refuses) and a 32-bit header extension length plus the extension; then per tuple a 16-bit
//! field count and per field a 32-bit length (-1: NULL) and that many bytes; a field count of
//! -1 ends the data. Everything big-endian. The end marker is required: a stream that stops
//! without it was cut off (a server error mid-COPY looks like that), never a short result.

use std::io::BufRead;

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
const HEADER: usize = 11 + 4 + 4;

#[derive(Debug, thiserror::Error)]
pub enum CopyError<E> {
    #[error("reading the COPY data: {0}")]
    Io(#[from] std::io::Error),
    #[error("the COPY data is not in the binary format: {0}")]
    Format(&'static str),
    #[error("the COPY data has tuples of {0} fields, not {1}")]
    FieldCount(i16, usize),
    #[error(transparent)]
    Tuple(E),
}

/// The tuples of a binary COPY stream of `N` fields each.
pub struct CopyReader<R> {
    inner: R,
    /// Bytes of an incomplete tuple (or header) waiting for the rest.
    carry: Vec<u8>,
    header_read: bool,
    ended: bool,
}

impl<R: BufRead> CopyReader<R> {
    pub fn new(inner: R) -> Self {
        CopyReader {
            inner,
            carry: Vec::new(),
            header_read: false,
            ended: false,
        }
    }

    /// Calls `each` with every tuple's fields, in order, until the data ends (`Ok(true)`) or
    /// `each` answers false (`Ok(false)`: the rest is not read).
    pub fn for_each<const N: usize, E>(
        &mut self,
        mut each: impl FnMut(&[Option<&[u8]>; N]) -> Result<bool, E>,
    ) -> Result<bool, CopyError<E>> {
        loop {
            let buf = self.inner.fill_buf()?;
            let n = buf.len();
            if n == 0 {
                if self.ended && self.carry.is_empty() {
                    return Ok(true);
                }
                return Err(CopyError::Format("the data stops before its end marker"));
            }
            let go_on = if self.carry.is_empty() {
                let (used, go_on) = parse(buf, &mut self.header_read, &mut self.ended, &mut each)?;
                self.carry.extend_from_slice(&buf[used..]);
                go_on
            } else {
                self.carry.extend_from_slice(buf);
                let (used, go_on) = parse(
                    &self.carry,
                    &mut self.header_read,
                    &mut self.ended,
                    &mut each,
                )?;
                self.carry.drain(..used);
                go_on
            };
            self.inner.consume(n);
            if !go_on {
                return Ok(false);
            }
        }
    }
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[..4].try_into().expect("4 bytes"))
}

/// Parses the complete tuples at the start of `bytes`: how many bytes they took, and whether
/// `each` wants more.
fn parse<const N: usize, E>(
    bytes: &[u8],
    header_read: &mut bool,
    ended: &mut bool,
    each: &mut impl FnMut(&[Option<&[u8]>; N]) -> Result<bool, E>,
) -> Result<(usize, bool), CopyError<E>> {
    let mut pos = 0;
    if !*header_read {
        if bytes.len() < HEADER {
            return Ok((0, true));
        }
        if &bytes[..11] != SIGNATURE {
            return Err(CopyError::Format("no PGCOPY signature"));
        }
        if be_u32(&bytes[11..]) & (1 << 16) != 0 {
            return Err(CopyError::Format("it includes OIDs"));
        }
        let extension = be_u32(&bytes[15..]) as usize;
        if bytes.len() - HEADER < extension {
            return Ok((0, true));
        }
        pos = HEADER + extension;
        *header_read = true;
    }
    'tuples: while !*ended {
        let rest = &bytes[pos..];
        if rest.len() < 2 {
            break;
        }
        let count = i16::from_be_bytes([rest[0], rest[1]]);
        if count == -1 {
            *ended = true;
            pos += 2;
            break;
        }
        if count < 0 || count as usize != N {
            return Err(CopyError::FieldCount(count, N));
        }
        let mut fields: [Option<&[u8]>; N] = [None; N];
        let mut p = 2;
        for field in fields.iter_mut() {
            let Some(len) = rest.get(p..p + 4) else {
                break 'tuples;
            };
            let len = i32::from_be_bytes(len.try_into().expect("4 bytes"));
            p += 4;
            if len == -1 {
                continue;
            }
            let len = usize::try_from(len).map_err(|_| CopyError::Format("a negative length"))?;
            let Some(value) = rest.get(p..p + len) else {
                break 'tuples;
            };
            *field = Some(value);
            p += len;
        }
        pos += p;
        if !each(&fields).map_err(CopyError::Tuple)? {
            return Ok((pos, false));
        }
    }
    if *ended && pos < bytes.len() {
        return Err(CopyError::Format("data after the end marker"));
    }
    Ok((pos, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(tuples: &[[Option<&[u8]>; 3]], end: bool) -> Vec<u8> {
        let mut s = SIGNATURE.to_vec();
        s.extend(0u32.to_be_bytes());
        s.extend(3u32.to_be_bytes());
        s.extend(b"ext");
        for t in tuples {
            s.extend(3i16.to_be_bytes());
            for f in t {
                match f {
                    Some(b) => {
                        s.extend((b.len() as i32).to_be_bytes());
                        s.extend(*b);
                    }
                    None => s.extend((-1i32).to_be_bytes()),
                }
            }
        }
        if end {
            s.extend((-1i16).to_be_bytes());
        }
        s
    }

    /// A reader that hands out the data `chunk` bytes at a time.
    struct Chunks<'a> {
        data: &'a [u8],
        chunk: usize,
    }

    impl std::io::Read for Chunks<'_> {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            unreachable!("only BufRead is used")
        }
    }

    impl BufRead for Chunks<'_> {
        fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
            Ok(&self.data[..self.chunk.min(self.data.len())])
        }
        fn consume(&mut self, n: usize) {
            self.data = &self.data[n..];
        }
    }

    type Owned = Vec<Option<Vec<u8>>>;

    fn read_all(data: &[u8], chunk: usize) -> Result<Vec<Owned>, CopyError<()>> {
        let mut out = Vec::new();
        CopyReader::new(Chunks { data, chunk }).for_each::<3, ()>(|t| {
            out.push(t.iter().map(|f| f.map(<[u8]>::to_vec)).collect());
            Ok(true)
        })?;
        Ok(out)
    }

    #[test]
    fn tuples_are_read_however_the_data_is_cut() {
        let tuples: [[Option<&[u8]>; 3]; 3] = [
            [Some(b"gw"), Some(&[0, 0, 0, 0, 0, 0, 0, 1]), None],
            [Some(b""), None, Some(&[7; 300])],
            [None, None, None],
        ];
        let data = stream(&tuples, true);
        let want: Vec<Owned> = tuples
            .iter()
            .map(|t| t.iter().map(|f| f.map(<[u8]>::to_vec)).collect())
            .collect();
        for chunk in [1, 2, 3, 7, 19, 20, 64, data.len()] {
            assert_eq!(read_all(&data, chunk).unwrap(), want, "chunks of {chunk}");
        }
    }

    #[test]
    fn a_stream_cut_off_or_malformed_is_an_error() {
        let tuples: [[Option<&[u8]>; 3]; 1] = [[Some(b"a"), Some(b"b"), Some(b"c")]];
        let cut = stream(&tuples, false);
        for chunk in [1, 5, cut.len()] {
            assert!(matches!(read_all(&cut, chunk), Err(CopyError::Format(_))));
            assert!(read_all(&cut[..cut.len() - 1], chunk).is_err());
        }
        let mut trailing = stream(&tuples, true);
        trailing.push(0);
        assert!(read_all(&trailing, 1000).is_err());
        let mut wrong = stream(&tuples, true);
        wrong[0] = b'X';
        assert!(read_all(&wrong, 1000).is_err());
        let mut oids = stream(&tuples, true);
        oids[12] = 1; // flags bit 16
        assert!(read_all(&oids, 1000).is_err());
        let mut count = stream(&tuples, true);
        count[23] = 4; // the first tuple's field count: 4
        assert!(matches!(
            read_all(&count, 1000),
            Err(CopyError::FieldCount(4, 3))
        ));
    }

    #[test]
    fn reading_stops_when_asked() {
        let tuples: [[Option<&[u8]>; 3]; 3] = [[None, None, None]; 3];
        let data = stream(&tuples, false); // no end marker: never reached
        let mut seen = 0;
        let done = CopyReader::new(Chunks {
            data: &data,
            chunk: 5,
        })
        .for_each::<3, ()>(|_| {
            seen += 1;
            Ok(seen < 2)
        })
        .unwrap();
        assert!(!done);
        assert_eq!(seen, 2);
    }
}
