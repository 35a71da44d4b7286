//! Checks on the raw query string that poem-openapi's parameter extraction cannot make: strict
//! percent-decoding, the shape of `filter`, and filter values nested deeper than `filter[name]`.

use crate::error::ApiError;

/// Detail of the 400 sent when `filter` is given a value instead of named filters.
pub const FILTER_NOT_OBJECT: &str = "'filter' must be an object of named filters, such as filter[cohort]=2024; \
     it cannot have a value of its own";

/// Decodes a query string into name and value pairs, in order.
///
/// A `+` decodes to a space, as in HTML forms. A `%` that is not followed by two hexadecimal
/// digits, or escapes that decode to invalid UTF-8, are rejected with a 400, where a lenient
/// decoder would guess.
pub fn decode_query(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode_component(name)?, decode_component(value)?))
        })
        .collect()
}

fn decode_component(text: &str) -> Result<String, ApiError> {
    let malformed = || {
        ApiError::BadRequest(format!(
            "the query string is not valid: '{text}' has a '%' that is not followed by two hexadecimal digits, \
             or does not decode to UTF-8 text; percent-encode reserved characters, such as %2B for '+'"
        ))
    };
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => decoded.push(b' '),
            b'%' => {
                let high = bytes.get(index + 1).and_then(|byte| (*byte as char).to_digit(16));
                let low = bytes.get(index + 2).and_then(|byte| (*byte as char).to_digit(16));
                let (Some(high), Some(low)) = (high, low) else {
                    return Err(malformed());
                };
                // Two hexadecimal digits are at most 0xFF, so the byte cannot overflow.
                decoded.push((high * 16 + low) as u8);
                index += 2;
            }
            byte => decoded.push(byte),
        }
        index += 1;
    }
    String::from_utf8(decoded).map_err(|_| malformed())
}

/// Rejects a query whose `filter` parameter is not an object: `filter=abc`, `filter=` or the
/// list form `filter[]=abc`. Every v3 endpoint applies this, before authentication.
pub fn check_filter_shape(pairs: &[(String, String)]) -> Result<(), ApiError> {
    let flat_filter = pairs.iter().any(|(name, _)| name == "filter" || name.starts_with("filter[]"));
    if flat_filter { Err(ApiError::BadRequest(FILTER_NOT_OBJECT.to_owned())) } else { Ok(()) }
}

/// Returns the first parameter that nests a value below `filter[name]`, such as
/// `filter[participant_id][abc]=`, as the text after `filter[name]` (`[abc]=`).
pub fn nested_filter(pairs: &[(String, String)], name: &str) -> Option<String> {
    let prefix = format!("filter[{name}][");
    pairs
        .iter()
        .find(|(key, _)| key.starts_with(&prefix))
        .map(|(key, value)| format!("{}={value}", &key[prefix.len() - 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pairs(query: &str) -> Vec<(String, String)> {
        decode_query(query).unwrap()
    }

    #[test]
    fn plus_and_percent_escapes_decode() {
        assert_eq!(
            pairs("filter%5Bupdated_since%5D=2024-01-01T10:00:00+01:00&sort=%2Bcreated_at"),
            vec![
                ("filter[updated_since]".to_owned(), "2024-01-01T10:00:00 01:00".to_owned()),
                ("sort".to_owned(), "+created_at".to_owned()),
            ]
        );
        assert_eq!(
            pairs("flag&&empty="),
            vec![("flag".to_owned(), String::new()), ("empty".to_owned(), String::new())]
        );
    }

    #[test]
    fn malformed_escapes_are_rejected() {
        for query in ["a=%", "a=%4", "a=%zz", "a%G1=1", "a=%FF", "a=%C3%28"] {
            assert!(decode_query(query).is_err(), "{query} should be rejected");
        }
    }

    #[test]
    fn flat_filter_is_rejected() {
        for query in ["filter=abc", "filter=", "filter", "filter[]=2024", "filter[cohort]=2024&filter=x"] {
            assert!(check_filter_shape(&pairs(query)).is_err(), "{query} should be rejected");
        }
        assert!(check_filter_shape(&pairs("filter[cohort]=2024&filters=1")).is_ok());
    }

    #[test]
    fn nested_filter_names_the_extra_level() {
        let query = pairs("filter[participant_id][7e5bcdbf]=x&filter[cohort]=2024");
        assert_eq!(nested_filter(&query, "participant_id"), Some("[7e5bcdbf]=x".to_owned()));
        assert_eq!(nested_filter(&query, "cohort"), None);
    }

    proptest! {
        #[test]
        fn decoding_never_panics(query in ".{0,60}") {
            let _ = decode_query(&query);
        }
    }
}
