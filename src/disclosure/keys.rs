//! The gateway's secrets for the disclosure log, read from files it insists are private:
//! the Ed25519 key that signs its checkpoints (one per instance) and the key of the BSN
//! pseudonyms (shared by every instance of a fleet, so that a person's records can be found).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use ed25519_dalek::{SigningKey, VerifyingKey};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::Bsn;

/// Reads a secret of `len` bytes (hex in the file) from `path`; creates it (0600) when missing
/// and `create` is set. A file readable by group or others is refused.
fn secret(path: &Path, len: usize, create: bool) -> anyhow::Result<Vec<u8>> {
    if !path.exists() {
        if !create {
            bail!("{} does not exist", path.display());
        }
        let mut bytes = vec![0u8; len];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        write_private(path, hex::encode(&bytes).as_bytes())?;
        return Ok(bytes);
    }
    let text = read_private(path)?;
    let bytes =
        hex::decode(text.trim()).with_context(|| format!("{} is not hex", path.display()))?;
    if bytes.len() != len {
        bail!(
            "{} must hold {len} bytes (hex), it holds {}",
            path.display(),
            bytes.len()
        );
    }
    Ok(bytes)
}

/// Creates the secret file `path` (mode 0600, its folder 0700 when new) holding `contents`;
/// never overwrites one.
pub fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(contents)?;
    f.sync_all()?;
    tracing::warn!(file = %path.display(), "created a new secret key");
    Ok(())
}

/// The text of the secret file `path`; refused when group or others may read it.
pub fn read_private(path: &Path) -> anyhow::Result<String> {
    let mode = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        bail!(
            "{} is readable by others (mode {:o}); run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The keys of one gateway instance.
pub struct Keys {
    pub signing: SigningKey,
    pseudonym: Hmac<Sha256>,
}

impl Keys {
    /// `keys_dir/<instance>.ed25519` (signing; its public half is written beside it as
    /// `<instance>.ed25519.pub`, the trusted key `log verify` checks against) and
    /// `keys_dir/pseudonym.key`.
    pub fn load(keys_dir: &Path, instance: &str, create: bool) -> anyhow::Result<Keys> {
        let signing_path = signing_key_path(keys_dir, instance);
        let seed: [u8; 32] = secret(&signing_path, 32, create)?
            .try_into()
            .expect("length checked");
        let signing = SigningKey::from_bytes(&seed);
        let public_path = public_key_path(keys_dir, instance);
        let public_hex = hex::encode(signing.verifying_key().as_bytes());
        match std::fs::read_to_string(&public_path) {
            Ok(existing) if existing.trim() == public_hex => {}
            Ok(_) => bail!(
                "{} does not belong to {}: restore the right key pair",
                public_path.display(),
                signing_path.display()
            ),
            Err(_) => std::fs::write(&public_path, &public_hex)
                .with_context(|| format!("cannot write {}", public_path.display()))?,
        }
        let pseudonym_key = secret(&keys_dir.join("pseudonym.key"), 32, create)?;
        Ok(Keys {
            signing,
            pseudonym: Hmac::<Sha256>::new_from_slice(&pseudonym_key).expect("any key length"),
        })
    }

    /// The keyed pseudonym of a BSN (HMAC-SHA-256): stable, not reversible without the key.
    pub fn pseudonym(&self, bsn: &Bsn) -> [u8; 32] {
        let mut mac = self.pseudonym.clone();
        mac.update(b"bsn:");
        mac.update(bsn.as_str().as_bytes());
        mac.finalize().into_bytes().into()
    }
}

pub fn signing_key_path(keys_dir: &Path, instance: &str) -> PathBuf {
    keys_dir.join(format!("{instance}.ed25519"))
}

pub fn public_key_path(keys_dir: &Path, instance: &str) -> PathBuf {
    keys_dir.join(format!("{instance}.ed25519.pub"))
}

/// The trusted public key of `instance`, from `keys_dir`.
pub fn trusted_public_key(keys_dir: &Path, instance: &str) -> anyhow::Result<VerifyingKey> {
    let path = public_key_path(keys_dir, instance);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no trusted public key for instance '{instance}' ({})",
            path.display()
        )
    })?;
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("{} is not a 32-byte hex key", path.display()))?;
    Ok(VerifyingKey::from_bytes(&bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_created_private_and_reloaded_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let a = Keys::load(dir.path(), "gw", true).unwrap();
        let mode = std::fs::metadata(dir.path().join("pseudonym.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = Keys::load(dir.path(), "gw", false).unwrap();
        let bsn = Bsn::parse("999993653").unwrap();
        assert_eq!(a.pseudonym(&bsn), b.pseudonym(&bsn));
        assert_eq!(
            a.signing.verifying_key(),
            trusted_public_key(dir.path(), "gw").unwrap()
        );
        assert!(!hex::encode(a.pseudonym(&bsn)).contains("999993653"));
    }

    #[test]
    fn a_key_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        Keys::load(dir.path(), "gw", true).unwrap();
        std::fs::set_permissions(
            dir.path().join("pseudonym.key"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let e = Keys::load(dir.path(), "gw", false)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("chmod 600"), "{e}");
    }
}
