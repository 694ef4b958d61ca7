//! PKCE (RFC 7636, S256) and the OAuth `state`, shaped exactly as PROTOCOL.md §2.1.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A verifier and the challenge derived from it. The verifier is a secret: redacted from `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Pkce {
    /// 64 random bytes, base64url without padding (86 characters).
    pub verifier: String,
    /// base64url-no-pad(SHA-256(verifier)) (43 characters).
    pub challenge: String,
}

impl std::fmt::Debug for Pkce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkce")
            .field("verifier", &"<redacted>")
            .field("challenge", &self.challenge)
            .finish()
    }
}

impl Pkce {
    /// A fresh pair from the operating system's randomness.
    pub fn generate() -> std::io::Result<Self> {
        let verifier = random_base64url::<64>()?;
        let challenge = challenge_for(&verifier);
        Ok(Self {
            verifier,
            challenge,
        })
    }
}

/// The S256 challenge of `verifier`.
pub fn challenge_for(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A fresh `state`: 32 random bytes, base64url without padding (43 characters).
pub fn generate_state() -> std::io::Result<String> {
    random_base64url::<32>()
}

fn random_base64url<const N: usize>() -> std::io::Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(crate::random::bytes::<N>()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_alphabet_follow_the_protocol() {
        let pkce = Pkce::generate().unwrap();
        assert_eq!(pkce.verifier.len(), 86);
        assert_eq!(pkce.challenge.len(), 43);
        assert_eq!(generate_state().unwrap().len(), 43);
        let url_safe = |s: &str| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        assert!(url_safe(&pkce.verifier) && url_safe(&pkce.challenge));
    }

    #[test]
    fn challenge_is_the_sha256_of_the_verifier() {
        let pkce = Pkce::generate().unwrap();
        assert_eq!(pkce.challenge, challenge_for(&pkce.verifier));
        // The verifier of RFC 7636 appendix B; the digest checked with `openssl dgst -sha256`.
        assert_eq!(
            challenge_for("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn every_pair_and_state_is_fresh() {
        assert_ne!(
            Pkce::generate().unwrap().verifier,
            Pkce::generate().unwrap().verifier
        );
        assert_ne!(generate_state().unwrap(), generate_state().unwrap());
    }

    #[test]
    fn debug_hides_the_verifier() {
        let pkce = Pkce::generate().unwrap();
        assert!(!format!("{pkce:?}").contains(&pkce.verifier));
    }
}
