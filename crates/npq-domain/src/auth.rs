//! API tokens: how they are made, stored and checked.
//!
//! A token is shown once, when it is created. The store keeps only an HMAC-SHA256 digest of it,
//! keyed by a key derived from the server secret, so a copy of the database alone cannot be used
//! to call the API, and tokens are found by digest without comparing secrets in a loop.

use std::fmt;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::Timestamp;
use crate::ids::{ApiTokenId, LeadProviderId};

type HmacSha256 = Hmac<Sha256>;

/// Random bytes in a new token: 256 bits.
const TOKEN_BYTES: usize = 32;

/// Shortest server secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// Purpose string that separates the token key from any other key derived from the same secret.
const TOKEN_KEY_PURPOSE: &[u8] = b"npq api token digest v1";

text_enum!(
    /// The part of the service a token gives access to.
    TokenScope, "token scope" {
        /// The lead provider API; the token belongs to one lead provider.
        LeadProvider => "lead_provider",
        /// The qualifications look-up used by the Teaching Regulation Agency.
        TeacherRecordService => "teacher_record_service",
        /// The registration front end.
        Registration => "registration",
        /// The DfE administration API; the token belongs to one named DfE staff member.
        Admin => "admin",
    }
);

/// Error for a server secret that is too short to key token digests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the server secret is {0} bytes long; it must be at least {MIN_SECRET_BYTES} bytes")]
pub struct SecretTooShort(pub usize);

/// The key that token digests are computed with.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl fmt::Debug for TokenKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    /// Derives the token key from the server secret.
    pub fn derive(secret: &[u8]) -> Result<Self, SecretTooShort> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(SecretTooShort(secret.len()));
        }
        let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| SecretTooShort(secret.len()))?;
        mac.update(TOKEN_KEY_PURPOSE);
        Ok(Self(mac.finalize().into_bytes().into()))
    }

    /// Derives a key for another purpose from the token key, so one server secret keys both
    /// without one key revealing the other.
    pub(crate) fn derive_subkey(&self, purpose: &[u8]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC accepts a key of any length");
        mac.update(purpose);
        mac.finalize().into_bytes().into()
    }

    /// Computes the digest stored for `token`.
    pub fn digest(&self, token: &str) -> TokenDigest {
        // HMAC accepts keys of any length, so this cannot fail for a 32-byte key.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(token.as_bytes());
        TokenDigest(hex::encode(mac.finalize().into_bytes()))
    }
}

/// Hex HMAC-SHA256 digest of a token, the only form in which tokens are stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenDigest(String);

impl TokenDigest {
    /// Wraps a digest read from the store.
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    /// Returns the digest as lower-case hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compares two digests in constant time.
    pub fn matches(&self, other: &TokenDigest) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

/// A token in plain text: exists only between creation and the moment it is shown, and while a
/// request presents it. Its `Debug` output hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainToken(String);

impl fmt::Debug for PlainToken {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("PlainToken(..)")
    }
}

impl PlainToken {
    /// Generates a new token: 256 random bits as 64 lower-case hex characters, safe in headers
    /// and URLs alike.
    pub fn generate(rng: &mut impl RngCore) -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        rng.fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }

    /// Wraps a token presented by a client.
    pub fn presented(text: &str) -> Self {
        Self(text.to_owned())
    }

    /// Returns the secret text. Callers show it once and never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A stored API token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub scope: TokenScope,
    /// The lead provider the token acts for; set exactly when the scope is `lead_provider`.
    pub lead_provider: Option<LeadProviderId>,
    pub digest: TokenDigest,
    /// Operator's note on who uses the token, such as the provider's integration name.
    pub description: Option<String>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    fn key() -> TokenKey {
        TokenKey::derive(&[7u8; 32]).unwrap()
    }

    #[test]
    fn short_secrets_are_rejected() {
        assert_eq!(TokenKey::derive(b"short").unwrap_err(), SecretTooShort(5));
    }

    #[test]
    fn generated_tokens_are_64_hex_characters() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let token = PlainToken::generate(&mut rng);
        assert_eq!(token.expose().len(), 64);
        assert!(token.expose().bytes().all(|byte| byte.is_ascii_hexdigit()));
    }

    #[test]
    fn debug_output_hides_the_token() {
        let token = PlainToken::presented("secret-value");
        assert!(!format!("{token:?}").contains("secret-value"));
        assert!(!format!("{:?}", key()).contains('7'));
    }

    #[test]
    fn digest_depends_on_the_secret() {
        let other = TokenKey::derive(&[8u8; 32]).unwrap();
        assert_ne!(key().digest("abc"), other.digest("abc"));
    }

    proptest! {
        #[test]
        fn digest_is_deterministic_and_matches_itself(token in ".{1,80}") {
            let first = key().digest(&token);
            prop_assert!(first.matches(&key().digest(&token)));
            prop_assert_eq!(first.as_str().len(), 64);
        }

        #[test]
        fn different_tokens_have_different_digests(first in "[a-z0-9]{8,40}", second in "[a-z0-9]{8,40}") {
            prop_assume!(first != second);
            prop_assert!(!key().digest(&first).matches(&key().digest(&second)));
        }
    }
}
