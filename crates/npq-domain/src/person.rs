//! People: applicants and participants.

use chrono::NaiveDate;

use crate::Timestamp;
use crate::identifiers::Trn;
use crate::ids::ParticipantId;

/// One person, who may have several applications with several lead providers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Public id, shown to lead providers as `participant_id`.
    pub participant_id: ParticipantId,
    /// Teacher reference number as the person gave it or as it was found; shown only when verified.
    pub trn: Option<Trn>,
    /// Whether the TRN was checked against the Teaching Regulation Agency's records.
    pub trn_verified: bool,
    pub full_name: String,
    /// Names the person used before, oldest first.
    pub previous_names: Vec<String>,
    /// Current email address; `None` when the address was blanked because a later account reused it.
    pub email: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Person {
    /// Returns the TRN that lead providers may see: only a verified one.
    pub fn verified_trn(&self) -> Option<&Trn> {
        self.trn.as_ref().filter(|_| self.trn_verified)
    }
}
