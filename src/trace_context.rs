//! W3C Trace Context (`traceparent`), and the ids of the gateway's own operation for a request
//! (Logboek Dataverwerkingen: trace_id 16 bytes, operation_id 8 bytes).

use std::time::Instant;

/// A parsed `traceparent` header: `00-<trace-id 32 hex>-<parent-id 16 hex>-<flags 2 hex>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: [u8; 16],
    pub parent_id: [u8; 8],
    pub flags: u8,
}

impl TraceParent {
    /// Parses as the W3C spec says: version 00 exactly 55 characters; a later version may carry
    /// more after a `-`. Lowercase hex only; all-zero ids and version ff are invalid.
    pub fn parse(value: &str) -> Option<TraceParent> {
        let b = value.as_bytes();
        if b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return None;
        }
        let version = hex_byte(&b[0..2])?;
        if version == 0xff || (version == 0 && b.len() != 55) || (b.len() > 55 && b[55] != b'-') {
            return None;
        }
        let mut trace_id = [0u8; 16];
        let mut parent_id = [0u8; 8];
        fill(&mut trace_id, &b[3..35])?;
        fill(&mut parent_id, &b[36..52])?;
        let flags = hex_byte(&b[53..55])?;
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        Some(TraceParent {
            trace_id,
            parent_id,
            flags,
        })
    }

    pub fn to_header(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            hex::encode(self.trace_id),
            hex::encode(self.parent_id),
            self.flags
        )
    }
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    Some(digit(pair[0])? << 4 | digit(pair[1])?)
}

fn fill(out: &mut [u8], hex: &[u8]) -> Option<()> {
    for (o, pair) in out.iter_mut().zip(hex.chunks(2)) {
        *o = hex_byte(pair)?;
    }
    Some(())
}

/// The gateway's own operation for one request, and the caller's, if it said.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub trace_id: [u8; 16],
    pub operation_id: [u8; 8],
    /// The caller's operation, from its `traceparent`.
    pub foreign: Option<TraceParent>,
    pub started: Instant,
}

impl RequestContext {
    pub fn new(incoming: Option<&str>) -> RequestContext {
        RequestContext {
            trace_id: nonzero(rand::random()),
            operation_id: nonzero(rand::random()),
            foreign: incoming.and_then(TraceParent::parse),
            started: Instant::now(),
        }
    }

    /// The `traceparent` this gateway sends back: its own operation, sampled.
    pub fn traceparent(&self) -> String {
        TraceParent {
            trace_id: self.trace_id,
            parent_id: self.operation_id,
            flags: 1,
        }
        .to_header()
    }

    /// The request id operators see (`X-Request-Id`, the problem `instance`): the trace id.
    pub fn request_id(&self) -> String {
        hex::encode(self.trace_id)
    }
}

fn nonzero<const N: usize>(mut id: [u8; N]) -> [u8; N] {
    if id.iter().all(|b| *b == 0) {
        id[N - 1] = 1;
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_the_w3c_example() {
        let h = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let tp = TraceParent::parse(h).unwrap();
        assert_eq!(tp.flags, 1);
        assert_eq!(tp.to_header(), h);
    }

    #[test]
    fn refuses_what_the_spec_refuses() {
        for bad in [
            "",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
            "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0g",
        ] {
            assert!(TraceParent::parse(bad).is_none(), "{bad:?} accepted");
        }
        // A future version may append fields.
        assert!(
            TraceParent::parse("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-xyz")
                .is_some()
        );
    }

    #[test]
    fn own_context_keeps_the_foreign_one_apart() {
        let ctx = RequestContext::new(Some(
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ));
        assert_ne!(
            hex::encode(ctx.trace_id),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(
            ctx.foreign.unwrap().parent_id,
            [0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31]
        );
        assert!(TraceParent::parse(&ctx.traceparent()).is_some());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_header_value_is_parsed_or_refused(s in crate::fuzzing::arb::text()) {
                crate::fuzzing::traceparent(s.as_bytes());
            }

            #[test]
            fn a_valid_traceparent_round_trips(
                trace_id in proptest::array::uniform16(any::<u8>()),
                parent_id in proptest::array::uniform8(any::<u8>()),
                flags in any::<u8>(),
            ) {
                prop_assume!(trace_id != [0; 16] && parent_id != [0; 8]);
                let tp = TraceParent { trace_id, parent_id, flags };
                let header = tp.to_header();
                prop_assert_eq!(header.len(), 55);
                prop_assert_eq!(TraceParent::parse(&header), Some(tp));
                // Upper-case hex is refused, as the spec says.
                let upper = header.to_ascii_uppercase();
                if upper != header {
                    prop_assert_eq!(TraceParent::parse(&upper), None);
                }
                // Any one character of the 55 changed to a non-hex one breaks it.
                for i in [0, 5, 40, 54] {
                    let mut b = header.clone().into_bytes();
                    b[i] = b'x';
                    prop_assert_eq!(TraceParent::parse(std::str::from_utf8(&b).unwrap()), None);
                }
            }
        }
    }
}
