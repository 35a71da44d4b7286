//! Reference lists from CSV files, and the small sample the sandbox is seeded with.
//!
//! Each file has a header row naming its columns, in any order:
//!
//! - schools: `urn`, `name`, `ukprn` (may be empty), `establishment_type`, `on_rise_list`,
//!   `on_pp50_list`;
//! - childcare providers: `urn`, `name`, `on_childminder_list`;
//! - teacher training providers: `legal_name`, `approved`.
//!
//! Flags are `true`/`false`, `yes`/`no` or `1`/`0`. Fields may be quoted with `"`, and a quoted
//! field may contain commas and doubled quotes.

use npq_domain::registration::{ChildcareProviderRecord, IttProviderRecord, SchoolRecord};

/// Error for a CSV file that cannot be read as a reference list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ImportError {
    pub line: usize,
    pub message: String,
}

/// Splits one CSV line into fields.
fn fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(character) = chars.next() {
        match (character, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if current.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut current)),
            (other, _) => current.push(other),
        }
    }
    if quoted {
        return Err("a quoted field is not closed".to_owned());
    }
    fields.push(current);
    Ok(fields.into_iter().map(|field| field.trim().to_owned()).collect())
}

/// One CSV row: its line number, and each column name with its value.
type Row = (usize, Vec<(String, String)>);

/// Returns the rows of a CSV text, after checking that the header names every required column.
fn rows(text: &str, required: &[&str]) -> Result<Vec<Row>, ImportError> {
    let mut lines = text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(ImportError { line: 1, message: "the file is empty; it needs a header row".to_owned() });
    };
    let header: Vec<String> = fields(header)
        .map_err(|message| ImportError { line: 1, message })?
        .into_iter()
        .map(|name| name.to_lowercase())
        .collect();
    for column in required {
        if !header.iter().any(|name| name == column) {
            return Err(ImportError {
                line: 1,
                message: format!("the header has no '{column}' column; expected {}", required.join(", ")),
            });
        }
    }
    lines
        .map(|(index, line)| {
            let line_number = index + 1;
            let values = fields(line).map_err(|message| ImportError { line: line_number, message })?;
            if values.len() != header.len() {
                return Err(ImportError {
                    line: line_number,
                    message: format!("{} fields where the header has {}", values.len(), header.len()),
                });
            }
            Ok((line_number, header.iter().cloned().zip(values).collect()))
        })
        .collect()
}

fn value<'a>(row: &'a [(String, String)], column: &str) -> &'a str {
    row.iter().find(|(name, _)| name == column).map(|(_, value)| value.as_str()).unwrap_or_default()
}

fn flag(line: usize, row: &[(String, String)], column: &str) -> Result<bool, ImportError> {
    match value(row, column).to_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" | "" => Ok(false),
        other => Err(ImportError { line, message: format!("'{other}' in '{column}' is not true or false") }),
    }
}

fn required_text(line: usize, row: &[(String, String)], column: &str) -> Result<String, ImportError> {
    let text = value(row, column);
    if text.is_empty() {
        Err(ImportError { line, message: format!("'{column}' is empty") })
    } else {
        Ok(text.to_owned())
    }
}

/// Reads schools from CSV text.
pub fn parse_schools(text: &str) -> Result<Vec<SchoolRecord>, ImportError> {
    let columns = ["urn", "name", "ukprn", "establishment_type", "on_rise_list", "on_pp50_list"];
    rows(text, &columns)?
        .into_iter()
        .map(|(line, row)| {
            let invalid = |message: String| ImportError { line, message };
            let ukprn = match value(&row, "ukprn") {
                "" => None,
                text => Some(
                    text.parse()
                        .map_err(|error: npq_domain::identifiers::InvalidIdentifier| invalid(error.to_string()))?,
                ),
            };
            let establishment_type = value(&row, "establishment_type");
            Ok(SchoolRecord {
                urn: value(&row, "urn")
                    .parse()
                    .map_err(|error: npq_domain::identifiers::InvalidIdentifier| invalid(error.to_string()))?,
                name: required_text(line, &row, "name")?,
                ukprn,
                establishment_type: establishment_type
                    .parse()
                    .map_err(|_| invalid(format!("'{establishment_type}' in 'establishment_type' is not a number")))?,
                on_rise_list: flag(line, &row, "on_rise_list")?,
                on_pp50_list: flag(line, &row, "on_pp50_list")?,
            })
        })
        .collect()
}

/// Reads private childcare providers from CSV text.
pub fn parse_childcare_providers(text: &str) -> Result<Vec<ChildcareProviderRecord>, ImportError> {
    rows(text, &["urn", "name", "on_childminder_list"])?
        .into_iter()
        .map(|(line, row)| {
            Ok(ChildcareProviderRecord {
                urn: value(&row, "urn").parse().map_err(|error: npq_domain::identifiers::InvalidIdentifier| {
                    ImportError { line, message: error.to_string() }
                })?,
                name: required_text(line, &row, "name")?,
                on_childminder_list: flag(line, &row, "on_childminder_list")?,
            })
        })
        .collect()
}

/// Reads initial teacher training providers from CSV text.
pub fn parse_itt_providers(text: &str) -> Result<Vec<IttProviderRecord>, ImportError> {
    rows(text, &["legal_name", "approved"])?
        .into_iter()
        .map(|(line, row)| {
            Ok(IttProviderRecord {
                legal_name: required_text(line, &row, "legal_name")?,
                approved: flag(line, &row, "approved")?,
            })
        })
        .collect()
}

/// Returns a small, invented sample of each list for the sandbox: schools of eligible and ineligible types,
/// on and off the PP50 and RISE lists, a local authority nursery school, childminders on and off
/// the list, and teacher training providers.
pub fn sandbox_lists() -> (Vec<SchoolRecord>, Vec<ChildcareProviderRecord>, Vec<IttProviderRecord>) {
    let school =
        |urn: &str, name: &str, ukprn: Option<&str>, establishment_type, on_rise_list, on_pp50_list| SchoolRecord {
            urn: urn.parse().unwrap_or_else(|_| unreachable!("sample URNs have six digits")),
            name: name.to_owned(),
            ukprn: ukprn.and_then(|ukprn| ukprn.parse().ok()),
            establishment_type,
            on_rise_list,
            on_pp50_list,
        };
    let schools = vec![
        school("100001", "Hillside Community Primary School", Some("10012345"), 1, false, false),
        school("100002", "Riverside Church of England Primary School", None, 3, false, true),
        school("137001", "Northgate Academy", Some("10023456"), 28, false, false),
        school("137002", "Eastfield Academy", Some("10023457"), 28, true, false),
        school("100003", "Meadow Lane Nursery School", None, 15, false, false),
        school("140001", "Castle Hill Independent School", None, 11, false, false),
        school("130001", "Westbrook Sixth Form College", Some("10034567"), 18, false, true),
    ];
    let childcare = |urn: &str, name: &str, on_childminder_list| ChildcareProviderRecord {
        urn: urn.parse().unwrap_or_else(|_| unreachable!("sample Ofsted URNs are valid")),
        name: name.to_owned(),
        on_childminder_list,
    };
    let childcare_providers = vec![
        childcare("EY123456", "Little Acorns Day Nursery", false),
        childcare("EY234567", "Sam Carter (childminder)", true),
        childcare("EY345678", "Jo Patel (childminder)", false),
    ];
    let itt_providers = vec![
        IttProviderRecord { legal_name: "Northern Teacher Training Partnership".to_owned(), approved: true },
        IttProviderRecord { legal_name: "Southern School Direct Alliance".to_owned(), approved: false },
    ];
    (schools, childcare_providers, itt_providers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn schools_are_read_with_quoted_names_in_any_column_order() {
        let text = "name,urn,establishment_type,ukprn,on_rise_list,on_pp50_list\n\
                    \"St Mary's, Upper\",100001,3,,no,yes\n";
        let schools = parse_schools(text).unwrap();
        assert_eq!(schools.len(), 1);
        assert_eq!(schools[0].name, "St Mary's, Upper");
        assert_eq!(schools[0].urn.as_str(), "100001");
        assert!(schools[0].on_pp50_list);
        assert_eq!(schools[0].ukprn, None);
    }

    #[test]
    fn a_bad_row_names_its_line() {
        let text = "urn,name,ukprn,establishment_type,on_rise_list,on_pp50_list\n100001,A,,1,no,no\n12,B,,1,no,no\n";
        let error = parse_schools(text).unwrap_err();
        assert_eq!(error.line, 3);
        let missing = parse_itt_providers("legal_name\nA\n").unwrap_err();
        assert!(missing.message.contains("approved"), "{missing}");
    }

    #[test]
    fn the_sandbox_sample_is_valid() {
        let (schools, childcare, itt) = sandbox_lists();
        assert!(schools.iter().any(|school| school.on_pp50_list));
        assert!(childcare.iter().any(|provider| provider.on_childminder_list));
        assert!(itt.iter().any(|provider| provider.approved));
    }

    proptest! {
        /// Any text either parses or names a line; it never panics.
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,200}") {
            let _ = parse_schools(&text);
            let _ = parse_childcare_providers(&text);
            let _ = parse_itt_providers(&text);
        }
    }
}
