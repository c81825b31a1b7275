//! Checking a stretch of one instance's chain on its own, and joining the stretches. `log
//! verify` reads several stretches at once; joined in order, their outcome is what one pass
//! over the whole chain gives: the same first fault (the lowest bad record), the same counts.
//!
//! Within a stretch every record must follow the one before it (the next sequence number,
//! its previous-hash the hash before it), hash to its stored hash, and match every signed
//! head at its position. A stretch's first record is checked against the end of the stretch
//! before it when the stretches are joined.

/// A hash column as read: its 32 bytes, or `None` when it is not 32 bytes long (then it can
/// match nothing).
pub type Digest = Option<[u8; 32]>;

pub fn digest(bytes: &[u8]) -> Digest {
    bytes.try_into().ok()
}

fn same(a: &Digest, b: &Digest) -> bool {
    matches!((a, b), (Some(a), Some(b)) if a == b)
}

/// One record as the chain check sees it.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    pub seq: i64,
    pub prev_hash: Digest,
    pub hash: Digest,
    /// Its columns hash to `hash` (false too when a column that cannot be absent is NULL).
    pub intact: bool,
}

/// A signed head the chain must pass through.
#[derive(Debug, Clone, Copy)]
pub struct Head<'a> {
    pub seq: i64,
    pub hash: &'a [u8],
    pub kind: &'a str,
}

/// What one stretch found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stretch {
    /// Sequence number and previous-hash of its first record; `None` when it had none.
    pub first: Option<(i64, Digest)>,
    /// Sequence number and hash of its last record that passed every check.
    pub last: Option<(i64, Digest)>,
    /// Records that passed every check, and those of them after the last signed checkpoint.
    pub records: u64,
    pub unsigned_tail: u64,
    /// The first fault inside the stretch: its record and what is wrong.
    pub fault: Option<(i64, String)>,
}

/// Checks the records of a stretch, fed in sequence order.
pub struct StretchCheck<'h> {
    heads: &'h [Head<'h>],
    /// The first of `heads` not passed yet.
    next_head: usize,
    last_signed: i64,
    out: Stretch,
    expect_seq: i64,
    prev: Digest,
}

impl<'h> StretchCheck<'h> {
    /// `heads` sorted by sequence number; `last_signed` the highest signed position.
    pub fn new(heads: &'h [Head<'h>], last_signed: i64) -> Self {
        StretchCheck {
            heads,
            next_head: 0,
            last_signed,
            out: Stretch::default(),
            expect_seq: 0,
            prev: None,
        }
    }

    fn fault(&mut self, seq: i64, what: String) -> bool {
        self.out.fault = Some((seq, what));
        false
    }

    /// Checks the next record; false once a fault is found (nothing more needs reading).
    pub fn push(&mut self, link: Link) -> bool {
        if self.out.fault.is_some() {
            return false;
        }
        if self.out.first.is_none() {
            self.out.first = Some((link.seq, link.prev_hash));
            self.next_head = self.heads.partition_point(|h| h.seq < link.seq);
        } else {
            if link.seq != self.expect_seq {
                return self.fault(
                    self.expect_seq,
                    format!("missing (the next record present is {})", link.seq),
                );
            }
            if !same(&link.prev_hash, &self.prev) {
                return self.fault(
                    link.seq,
                    "its previous-hash does not match the record before it".into(),
                );
            }
        }
        if !link.intact {
            return self.fault(
                link.seq,
                "its content does not match its hash (modified)".into(),
            );
        }
        while let Some(head) = self.heads.get(self.next_head) {
            if head.seq > link.seq {
                break;
            }
            self.next_head += 1;
            if head.seq == link.seq && !same(&digest(head.hash), &link.hash) {
                return self.fault(
                    link.seq,
                    format!(
                        "differs from the signed {} checkpoint at this position",
                        head.kind
                    ),
                );
            }
        }
        if link.seq > self.last_signed {
            self.out.unsigned_tail += 1;
        }
        self.out.records += 1;
        self.out.last = Some((link.seq, link.hash));
        self.expect_seq = link.seq + 1;
        self.prev = link.hash;
        true
    }

    pub fn found_fault(&self) -> bool {
        self.out.fault.is_some()
    }

    pub fn finish(self) -> Stretch {
        self.out
    }
}

/// The stretches joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    pub records: u64,
    pub unsigned_tail: u64,
    /// The sequence number a next record would have, or the first fault.
    pub outcome: Result<i64, (i64, String)>,
}

/// Joins `stretches` (in sequence order) onto the chain's start: record `start_seq` follows
/// `start_prev`. Stops at the first fault: stretches after it are not looked at.
pub fn join<'s>(
    start_seq: i64,
    start_prev: Digest,
    stretches: impl IntoIterator<Item = &'s Stretch>,
) -> Joined {
    let mut joined = Joined {
        records: 0,
        unsigned_tail: 0,
        outcome: Ok(start_seq),
    };
    let mut next_seq = start_seq;
    let mut prev = start_prev;
    for s in stretches {
        let Some((first_seq, first_prev)) = s.first else {
            continue;
        };
        if first_seq != next_seq {
            joined.outcome = Err((
                next_seq,
                format!("missing (the next record present is {first_seq})"),
            ));
            return joined;
        }
        if !same(&first_prev, &prev) {
            joined.outcome = Err((
                first_seq,
                "its previous-hash does not match the record before it".into(),
            ));
            return joined;
        }
        joined.records += s.records;
        joined.unsigned_tail += s.unsigned_tail;
        if let Some(fault) = &s.fault {
            joined.outcome = Err(fault.clone());
            return joined;
        }
        let (last_seq, last_hash) = s.last.expect("a stretch without a fault has a last record");
        next_seq = last_seq + 1;
        prev = last_hash;
    }
    joined.outcome = Ok(next_seq);
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain of `n` records: record k's hash is [k; 32] (k < 256), stored intact.
    fn chain(n: i64) -> Vec<Link> {
        (1..=n)
            .map(|k| Link {
                seq: k,
                prev_hash: Some([(k - 1) as u8; 32]),
                hash: Some([k as u8; 32]),
                intact: true,
            })
            .collect()
    }

    fn check(links: &[Link], heads: &[Head], from: i64, to: i64) -> Stretch {
        let mut c = StretchCheck::new(heads, 40);
        for l in links.iter().filter(|l| l.seq >= from && l.seq <= to) {
            if !c.push(*l) {
                break;
            }
        }
        c.finish()
    }

    /// The chain checked in one stretch, and cut into stretches at every pair of places.
    fn every_split_agrees(links: &[Link], heads: &[Head]) -> Joined {
        let whole = join(1, Some([0; 32]), [&check(links, heads, 1, i64::MAX)]);
        for a in 1..=60 {
            for b in a..=60 {
                let parts = [
                    check(links, heads, 1, a),
                    check(links, heads, a + 1, b),
                    check(links, heads, b + 1, i64::MAX),
                ];
                assert_eq!(
                    join(1, Some([0; 32]), &parts),
                    whole,
                    "split after {a} and {b}"
                );
            }
        }
        whole
    }

    fn heads(hashes: &[[u8; 32]]) -> Vec<Head<'_>> {
        hashes
            .iter()
            .enumerate()
            .map(|(i, h)| Head {
                seq: 10 * (i as i64 + 1),
                hash: h,
                kind: "periodic",
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_is_intact_however_it_is_cut() {
        let signed: Vec<[u8; 32]> = (1..=4).map(|i| [10 * i as u8; 32]).collect();
        let j = every_split_agrees(&chain(50), &heads(&signed));
        assert_eq!(
            j,
            Joined {
                records: 50,
                unsigned_tail: 10,
                outcome: Ok(51),
            }
        );
    }

    #[test]
    fn every_kind_of_fault_is_found_at_the_same_record_however_the_chain_is_cut() {
        let signed: Vec<[u8; 32]> = (1..=4).map(|i| [10 * i as u8; 32]).collect();
        let heads = heads(&signed);
        let expect = |links: &[Link], seq: i64, what: &str| {
            let j = every_split_agrees(links, &heads);
            let (at, said) = j.outcome.expect_err("fault not found");
            assert_eq!(at, seq, "{said}");
            assert!(said.contains(what), "{said}");
        };
        for k in [1, 2, 17, 30, 31, 49, 50] {
            let mut c = chain(50);
            c[k as usize - 1].intact = false;
            expect(&c, k, "modified");

            let mut c = chain(50);
            c.remove(k as usize - 1);
            if k == 50 {
                // The last record gone: the chain just ends earlier (the signed heads
                // beyond the end are checked apart).
                assert_eq!(every_split_agrees(&c, &heads).outcome, Ok(50));
            } else {
                expect(&c, k, "missing");
            }

            if k < 50 {
                let mut c = chain(50);
                c.swap(k as usize - 1, k as usize);
                (c[k as usize - 1].seq, c[k as usize].seq) = (k, k + 1);
                expect(&c, k, "previous-hash");
            }

            let mut c = chain(50);
            c[k as usize - 1].prev_hash = None; // not 32 bytes
            expect(&c, k, "previous-hash");
        }
        // Two faults: the lower one is reported.
        let mut c = chain(50);
        c[39].intact = false;
        c[12].prev_hash = Some([99; 32]);
        expect(&c, 13, "previous-hash");
        // A record that differs from a signed head (re-chained after it, so links hold).
        let mut c = chain(50);
        c[29].hash = Some([77; 32]);
        c[30].prev_hash = Some([77; 32]);
        expect(&c, 30, "signed periodic checkpoint");
        // Records before the start: a forged first record does not follow the start.
        let mut c = chain(50);
        c[0].prev_hash = Some([5; 32]);
        expect(&c, 1, "previous-hash");
        // The first records missing.
        let c = chain(50)[3..].to_vec();
        expect(&c, 1, "missing (the next record present is 4)");
    }
}
