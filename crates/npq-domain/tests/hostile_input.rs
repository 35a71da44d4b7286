//! Hostile input to the domain's parsers: whatever text a client sends in a query string or a
//! request body, parsing returns a value or an error and never panics, and what it accepts obeys
//! the parser's contract.
//!
//! Two kinds of text are generated: arbitrary Unicode, and "near misses" assembled from the
//! characters the parsers look at (digits, separators, signs, zone letters) mixed with multi-byte
//! characters, which is where slicing a string at a fixed byte offset would panic.

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use npq_domain::cohort::CohortIdentifier;
use npq_domain::declaration::{HasPassedInput, parse_declaration_date, parse_has_passed};
use npq_domain::declaration_actions::{DeclarationRequest, requested_participant, requested_partners};
use npq_domain::ids::{ParticipantId, parse_hyphenated_uuid};
use npq_domain::listing::{
    DeliveryPartnerSort, MAX_PER_PAGE, PageRequest, Sort, parse_cohort_filter, parse_participant_id_filter,
    parse_timestamp_filter,
};
use npq_domain::participant::{
    parse_course, parse_deferral_reason, parse_from_participant_id_filter, parse_training_status_filter,
    parse_withdrawal_reason,
};
use proptest::prelude::*;

/// Returns text assembled from the pieces that date, number, id and list parsers look at, with
/// multi-byte characters among them.
fn near_miss() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "2025",
        "-",
        "10",
        "02",
        "T",
        "t",
        ":",
        "00",
        "59",
        ".",
        ",",
        "123",
        "Z",
        "z",
        "+",
        "+01:00",
        "-0530",
        " ",
        "é",
        "€",
        "𝟘",
        "\u{0}",
        "\u{feff}",
        "a",
        "b",
        "2026b",
        "ffffffff",
        "-ffff",
        "0",
        "99",
        "created_at",
        "-name",
        "%",
    ]);
    prop::collection::vec(piece, 0..16).prop_map(|pieces| pieces.concat())
}

/// Returns any text: arbitrary Unicode or a near miss.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,48}", near_miss()]
}

/// Returns an instant between 1970 and 2100, to whole microseconds, with a zone offset in whole
/// minutes of up to 23:59 either way.
fn instant_and_offset() -> impl Strategy<Value = (DateTime<Utc>, FixedOffset)> {
    (0i64..4_102_444_800, 0u32..1_000_000, -(23 * 60 + 59)..=(23 * 60 + 59)).prop_map(|(seconds, micros, minutes)| {
        let instant = Utc.timestamp_opt(seconds, micros * 1000).single().expect("in range");
        let offset = FixedOffset::east_opt(minutes * 60).expect("within a day");
        (instant, offset)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn page_parameters_are_bounded_or_rejected(page in hostile_text(), per_page in hostile_text()) {
        if let Ok(request) = PageRequest::parse(Some(&page), Some(&per_page)) {
            prop_assert!(request.page() >= 1);
            prop_assert!((1..=MAX_PER_PAGE).contains(&request.per_page()));
        }
    }

    #[test]
    fn sort_parameters_never_repeat_a_column(text in hostile_text()) {
        let sort = Sort::parse(Some(&text));
        prop_assert!(!sort.keys().is_empty(), "an empty sort falls back to the default");
        for (index, key) in sort.keys().iter().enumerate() {
            prop_assert!(sort.keys()[index + 1..].iter().all(|other| other.field != key.field));
        }
        let partner_sort = DeliveryPartnerSort::parse(Some(&text));
        prop_assert!(!partner_sort.keys().is_empty());
    }

    #[test]
    fn cohort_filters_are_distinct_or_rejected(text in hostile_text()) {
        if let Ok(Some(selectors)) = parse_cohort_filter(Some(&text)) {
            prop_assert!(!selectors.is_empty());
            for (index, selector) in selectors.iter().enumerate() {
                prop_assert!(!selectors[index + 1..].contains(selector), "{:?} repeated", selector);
            }
        }
    }

    #[test]
    fn id_filters_accept_only_uuids(text in hostile_text()) {
        if let Ok(Some(ids)) = parse_participant_id_filter("participant_id", Some(&text)) {
            for element in text.split(',') {
                let parsed = parse_hyphenated_uuid(element.trim());
                prop_assert!(parsed.is_ok(), "{:?} was accepted", element);
                let id = ParticipantId::from_uuid(parsed.unwrap_or_default());
                prop_assert!(ids.contains(&id));
            }
        }
    }

    #[test]
    fn timestamp_filters_never_panic(text in hostile_text()) {
        let _ = parse_timestamp_filter("updated_since", Some(&text));
    }

    #[test]
    fn timestamp_filters_read_every_offset((instant, offset) in instant_and_offset()) {
        let written = instant.with_timezone(&offset).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        prop_assert_eq!(parse_timestamp_filter("updated_since", Some(&written)), Ok(Some(instant)));
        // An unencoded '+' arrives as a space.
        let decoded_plus = written.replace('+', " ");
        prop_assert_eq!(parse_timestamp_filter("updated_since", Some(&decoded_plus)), Ok(Some(instant)));
    }

    #[test]
    fn declaration_dates_never_panic(text in hostile_text()) {
        if let Err(error) = parse_declaration_date(&text) {
            prop_assert_eq!(error.attribute, "declaration_date");
        }
    }

    #[test]
    fn declaration_dates_read_rfc3339((instant, offset) in instant_and_offset()) {
        let written = instant.with_timezone(&offset).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        prop_assert_eq!(parse_declaration_date(&written), Ok(instant));
    }

    #[test]
    fn declaration_request_ids_never_panic(participant in hostile_text(), first in hostile_text(), second in hostile_text()) {
        let request = DeclarationRequest {
            participant_id: Some(participant.clone()),
            delivery_partner_id: Some(first),
            secondary_delivery_partner_id: Some(second),
            ..DeclarationRequest::default()
        };
        if requested_participant(&request).is_some() {
            prop_assert!(parse_hyphenated_uuid(participant.trim()).is_ok(), "{:?} was read as an id", participant);
        }
        prop_assert!(requested_partners(&request).len() <= 2);
    }

    #[test]
    fn has_passed_accepts_only_true_or_false(text in hostile_text()) {
        let parsed = parse_has_passed(&HasPassedInput::Text(text.clone()));
        match text.as_str() {
            "true" => prop_assert_eq!(parsed, Ok(true)),
            "false" => prop_assert_eq!(parsed, Ok(false)),
            _ => prop_assert_eq!(parsed.map_err(|error| error.attribute), Err("has_passed".to_owned())),
        }
    }

    #[test]
    fn participant_action_values_never_panic(text in hostile_text()) {
        let _ = parse_course(Some(&text));
        let _ = parse_deferral_reason(Some(&text));
        let _ = parse_withdrawal_reason(Some(&text));
        let _ = parse_training_status_filter(Some(&text));
        let _ = parse_from_participant_id_filter(Some(&text));
        let _ = text.parse::<CohortIdentifier>();
    }
}
