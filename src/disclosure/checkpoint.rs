//! Signed checkpoints of a chain: "at sequence N the head hash was H", signed with the
//! instance's Ed25519 key. A purge checkpoint also says where the chain now starts.

use diesel::{Insertable, Queryable, Selectable};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::storage::schema::disclosure_checkpoints;

#[derive(Debug, Clone, PartialEq, Eq, Insertable, Queryable, Selectable)]
#[diesel(table_name = disclosure_checkpoints)]
pub struct Checkpoint {
    pub instance_id: String,
    pub seq: i64,
    pub kind: String,
    pub head_hash: Vec<u8>,
    pub first_seq: i64,
    pub first_prev_hash: Vec<u8>,
    pub created_at_ms: i64,
    pub public_key: Vec<u8>,
    pub signature: Vec<u8>,
}

pub const PERIODIC: &str = "periodic";
pub const PURGE: &str = "purge";

impl Checkpoint {
    #[allow(clippy::too_many_arguments)]
    pub fn sign(
        key: &SigningKey,
        instance: &str,
        seq: i64,
        kind: &str,
        head_hash: [u8; 32],
        first_seq: i64,
        first_prev_hash: [u8; 32],
        created_at_ms: i64,
    ) -> Checkpoint {
        let mut cp = Checkpoint {
            instance_id: instance.to_owned(),
            seq,
            kind: kind.to_owned(),
            head_hash: head_hash.to_vec(),
            first_seq,
            first_prev_hash: first_prev_hash.to_vec(),
            created_at_ms,
            public_key: key.verifying_key().as_bytes().to_vec(),
            signature: Vec::new(),
        };
        cp.signature = key.sign(&cp.message()).to_bytes().to_vec();
        cp
    }

    fn message(&self) -> Vec<u8> {
        let mut m = b"doelpoort-checkpoint-v1".to_vec();
        for part in [
            self.instance_id.as_bytes(),
            self.kind.as_bytes(),
            &self.head_hash,
            &self.first_prev_hash,
        ] {
            m.extend((part.len() as u32).to_be_bytes());
            m.extend(part);
        }
        m.extend(self.seq.to_be_bytes());
        m.extend(self.first_seq.to_be_bytes());
        m.extend(self.created_at_ms.to_be_bytes());
        m
    }

    /// Is the signature valid, and made with the trusted key (not merely the key the row
    /// itself names, which whoever edits the database could replace)?
    pub fn verify(&self, trusted: &VerifyingKey) -> bool {
        let Ok(sig) = <[u8; 64]>::try_from(self.signature.as_slice()) else {
            return false;
        };
        self.public_key == trusted.as_bytes()
            && trusted
                .verify(&self.message(), &Signature::from_bytes(&sig))
                .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_covers_every_member_and_needs_the_trusted_key() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let cp = Checkpoint::sign(&key, "gw", 10, PERIODIC, [1; 32], 1, [0; 32], 5);
        assert!(cp.verify(&key.verifying_key()));
        let mut forged = cp.clone();
        forged.seq = 11;
        assert!(!forged.verify(&key.verifying_key()));
        let other = SigningKey::from_bytes(&[8; 32]);
        let resigned = Checkpoint::sign(&other, "gw", 10, PERIODIC, [1; 32], 1, [0; 32], 5);
        assert!(
            !resigned.verify(&key.verifying_key()),
            "a checkpoint signed with another key passed"
        );
    }
}
