//! PKCE (RFC 7636, S256) and the random strings the issuer hands out.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

/// base64url-no-pad(SHA-256(verifier)).
pub fn s256_challenge(verifier: &str) -> String {
    use sha2::{Digest, Sha256};
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `n` random bytes, base64url without padding (64 bytes make an 86-char verifier).
pub fn random_b64(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A fresh verifier and its challenge, as the device flow's server side makes them.
pub fn pair() -> (String, String) {
    let verifier = random_b64(64);
    let challenge = s256_challenge(&verifier);
    (verifier, challenge)
}
