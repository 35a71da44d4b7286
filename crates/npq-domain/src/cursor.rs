//! Cursors of list walks: the opaque `page[cursor]` values that resume a list after the last
//! record a client received.
//!
//! A cursor records which list it belongs to, the sort column, and the position of the last
//! record returned (see [`ListPosition`]). It is signed with a key derived from the server secret,
//! so a changed cursor is rejected instead of being read as another position. The encoding is
//! not a contract: clients send back what they received.

use chrono::{TimeZone, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::auth::TokenKey;
use crate::listing::{ListParameterError, ListPosition, SortField};

type HmacSha256 = Hmac<Sha256>;

/// Purpose string that separates the cursor key from any other key derived from the same secret.
const CURSOR_KEY_PURPOSE: &[u8] = b"npq list cursor v1";

/// Format version, the first byte of every cursor.
const FORMAT_VERSION: u8 = 1;

/// Bytes of the signature kept in a cursor: 128 bits of HMAC-SHA256.
const SIGNATURE_BYTES: usize = 16;

/// Bytes before the signature: version, list, sort column, position flag, microseconds, id.
const PAYLOAD_BYTES: usize = 4 + 8 + 16;

/// The list a cursor walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorList {
    Applications,
    Participants,
    Declarations,
}

impl CursorList {
    const fn code(self) -> u8 {
        match self {
            Self::Applications => 1,
            Self::Participants => 2,
            Self::Declarations => 3,
        }
    }
}

/// The key cursors are signed with.
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("CursorKey(..)")
    }
}

impl CursorKey {
    /// Derives the cursor key from the token key, which is derived from the server secret.
    pub fn derive(token_key: &TokenKey) -> Self {
        Self(token_key.derive_subkey(CURSOR_KEY_PURPOSE))
    }

    fn sign(&self, payload: &[u8]) -> [u8; SIGNATURE_BYTES] {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(payload);
        let full: [u8; 32] = mac.finalize().into_bytes().into();
        let mut signature = [0u8; SIGNATURE_BYTES];
        signature.copy_from_slice(&full[..SIGNATURE_BYTES]);
        signature
    }

    /// Encodes a cursor for `list` sorted by `field`. Without a position it starts at the
    /// beginning of the list.
    pub fn encode(&self, list: CursorList, field: SortField, position: Option<ListPosition>) -> String {
        let mut payload = Vec::with_capacity(PAYLOAD_BYTES + SIGNATURE_BYTES);
        payload.push(FORMAT_VERSION);
        payload.push(list.code());
        payload.push(field_code(field));
        match position {
            None => {
                payload.push(0);
                payload.extend_from_slice(&[0u8; 24]);
            }
            Some(position) => {
                payload.push(1);
                payload.extend_from_slice(&position.sort_value.timestamp_micros().to_be_bytes());
                payload.extend_from_slice(position.id.as_bytes());
            }
        }
        let signature = self.sign(&payload);
        payload.extend_from_slice(&signature);
        hex::encode(payload)
    }

    /// Decodes a cursor that [`CursorKey::encode`] made for `list`, and checks that it was made
    /// for the sort column `field`. Returns the position to resume after, or `None` for a cursor
    /// at the beginning of the list.
    pub fn decode(
        &self,
        text: &str,
        list: CursorList,
        field: SortField,
    ) -> Result<Option<ListPosition>, ListParameterError> {
        let bytes = hex::decode(text.trim()).map_err(|_| ListParameterError::InvalidCursor)?;
        if bytes.len() != PAYLOAD_BYTES + SIGNATURE_BYTES {
            return Err(ListParameterError::InvalidCursor);
        }
        let (payload, signature) = bytes.split_at(PAYLOAD_BYTES);
        if !bool::from(self.sign(payload).ct_eq(signature)) {
            return Err(ListParameterError::InvalidCursor);
        }
        if payload[0] != FORMAT_VERSION || payload[1] != list.code() {
            return Err(ListParameterError::InvalidCursor);
        }
        let cursor_field = match payload[2] {
            1 => SortField::CreatedAt,
            2 => SortField::UpdatedAt,
            _ => return Err(ListParameterError::InvalidCursor),
        };
        if cursor_field != field {
            return Err(ListParameterError::CursorSortChanged {
                cursor_sort: cursor_field.as_str(),
                request_sort: field.as_str(),
            });
        }
        match payload[3] {
            0 => Ok(None),
            1 => {
                let micros =
                    i64::from_be_bytes(payload[4..12].try_into().map_err(|_| ListParameterError::InvalidCursor)?);
                let sort_value = Utc.timestamp_micros(micros).single().ok_or(ListParameterError::InvalidCursor)?;
                let id = uuid::Uuid::from_slice(&payload[12..28]).map_err(|_| ListParameterError::InvalidCursor)?;
                Ok(Some(ListPosition { sort_value, id }))
            }
            _ => Err(ListParameterError::InvalidCursor),
        }
    }
}

const fn field_code(field: SortField) -> u8 {
    match field {
        SortField::CreatedAt => 1,
        SortField::UpdatedAt => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> CursorKey {
        CursorKey::derive(&TokenKey::derive(&[byte; 32]).unwrap())
    }

    fn position() -> ListPosition {
        ListPosition {
            sort_value: Utc.timestamp_micros(1_735_689_600_123_456).unwrap(),
            id: uuid::Uuid::from_u128(0x7e5b_cdbf_c818_4961_8da5_439c_ab19_84e0),
        }
    }

    #[test]
    fn cursor_round_trips() {
        let text = key(1).encode(CursorList::Applications, SortField::UpdatedAt, Some(position()));
        assert_eq!(key(1).decode(&text, CursorList::Applications, SortField::UpdatedAt), Ok(Some(position())));
        let start = key(1).encode(CursorList::Declarations, SortField::CreatedAt, None);
        assert_eq!(key(1).decode(&start, CursorList::Declarations, SortField::CreatedAt), Ok(None));
    }

    #[test]
    fn changed_cursor_is_rejected() {
        let text = key(1).encode(CursorList::Applications, SortField::CreatedAt, Some(position()));
        for index in 0..text.len() {
            let mut bytes = text.clone().into_bytes();
            bytes[index] = if bytes[index] == b'0' { b'1' } else { b'0' };
            let changed = String::from_utf8(bytes).unwrap();
            assert_eq!(
                key(1).decode(&changed, CursorList::Applications, SortField::CreatedAt),
                Err(ListParameterError::InvalidCursor),
                "character {index}"
            );
        }
    }

    #[test]
    fn cursor_of_other_key_or_list_is_rejected() {
        let text = key(1).encode(CursorList::Applications, SortField::CreatedAt, Some(position()));
        assert_eq!(
            key(2).decode(&text, CursorList::Applications, SortField::CreatedAt),
            Err(ListParameterError::InvalidCursor)
        );
        assert_eq!(
            key(1).decode(&text, CursorList::Participants, SortField::CreatedAt),
            Err(ListParameterError::InvalidCursor)
        );
        for text in ["", "zz", "abc", &"0".repeat(88)] {
            assert_eq!(
                key(1).decode(text, CursorList::Applications, SortField::CreatedAt),
                Err(ListParameterError::InvalidCursor)
            );
        }
    }

    #[test]
    fn cursor_of_other_sort_names_both_sorts() {
        let text = key(1).encode(CursorList::Applications, SortField::CreatedAt, None);
        assert_eq!(
            key(1).decode(&text, CursorList::Applications, SortField::UpdatedAt),
            Err(ListParameterError::CursorSortChanged { cursor_sort: "created_at", request_sort: "updated_at" })
        );
    }
}
