//! Lead provider allow-lists, stored as a JSON array of CIDR networks on the lead provider's row.

use npq_domain::StoreError;
use npq_domain::ids::LeadProviderId;
use npq_domain::network::AllowList;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::Store;
use crate::entity::lead_provider;
use crate::error::{corrupt, to_store_error};

/// Converts the stored JSON array back to an allow-list, re-parsing every network.
fn allow_list_from_column(stored: &str) -> Result<AllowList, StoreError> {
    let texts: Vec<String> =
        serde_json::from_str(stored).map_err(|error| corrupt("lead_providers.allowed_networks", error))?;
    AllowList::parse(&texts).map_err(|error| corrupt("lead_providers.allowed_networks", error))
}

fn allow_list_to_column(networks: &AllowList) -> String {
    let texts: Vec<String> = networks.networks().iter().map(ToString::to_string).collect();
    serde_json::Value::from(texts).to_string()
}

impl Store {
    pub(crate) async fn read_allowed_networks(&self, id: LeadProviderId) -> Result<Option<AllowList>, StoreError> {
        let stored: Option<String> = lead_provider::Entity::find()
            .select_only()
            .column(lead_provider::Column::AllowedNetworks)
            .filter(lead_provider::Column::PublicId.eq(id.as_uuid()))
            .into_tuple()
            .one(&self.db)
            .await
            .map_err(to_store_error)?;
        stored.as_deref().map(allow_list_from_column).transpose()
    }

    pub(crate) async fn write_allowed_networks(
        &self,
        id: LeadProviderId,
        networks: &AllowList,
    ) -> Result<bool, StoreError> {
        let result = lead_provider::Entity::update_many()
            .col_expr(lead_provider::Column::AllowedNetworks, Expr::value(allow_list_to_column(networks)))
            .filter(lead_provider::Column::PublicId.eq(id.as_uuid()))
            .exec(&self.db)
            .await
            .map_err(to_store_error)?;
        Ok(result.rows_affected > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_survives_the_column() {
        let list = AllowList::parse(&["2001:db8::/32", "10.0.0.0/8", "192.0.2.7"]).unwrap();
        let stored = allow_list_to_column(&list);
        assert_eq!(stored, r#"["10.0.0.0/8","192.0.2.7/32","2001:db8::/32"]"#);
        assert_eq!(allow_list_from_column(&stored), Ok(list));
    }

    #[test]
    fn invalid_stored_network_is_corrupt() {
        assert!(matches!(allow_list_from_column(r#"["10.0.0.0/33"]"#), Err(StoreError::Corrupt(_))));
        assert!(matches!(allow_list_from_column("not json"), Err(StoreError::Corrupt(_))));
    }
}
