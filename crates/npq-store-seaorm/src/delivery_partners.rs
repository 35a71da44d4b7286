//! The delivery partners a lead provider works with: those with a row in `delivery_partnerships`
//! for the provider, in any cohort.

use std::collections::HashMap;

use async_trait::async_trait;
use npq_domain::StoreError;
use npq_domain::cohort::CohortIdentifier;
use npq_domain::ids::{DeliveryPartnerId, LeadProviderId};
use npq_domain::listing::{DeliveryPartnerQuery, DeliveryPartnerSortField, Direction};
use npq_domain::ports::DeliveryPartnerRepository;
use npq_domain::provider::{DeliveryPartner, DeliveryPartnerView};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect};

use crate::Store;
use crate::entity::{delivery_partner, delivery_partnership};
use crate::error::{corrupt, to_store_error};

impl Store {
    /// Turns partner rows into views, loading the cohorts of their partnerships with the lead
    /// provider (internal id `provider_id`) in one query.
    async fn delivery_partner_views(
        &self,
        provider_id: i64,
        rows: Vec<delivery_partner::Model>,
    ) -> Result<Vec<DeliveryPartnerView>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let partner_ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        let partnerships = delivery_partnership::Entity::find()
            .filter(delivery_partnership::Column::LeadProviderId.eq(provider_id))
            .filter(delivery_partnership::Column::DeliveryPartnerId.is_in(partner_ids))
            .all(&self.db)
            .await
            .map_err(to_store_error)?;
        let cohorts = self.cohort_identifiers().await?;
        let mut cohorts_by_partner: HashMap<i64, Vec<CohortIdentifier>> = HashMap::new();
        for partnership in partnerships {
            let cohort = *cohorts
                .get(&partnership.cohort_id)
                .ok_or_else(|| corrupt("delivery_partnerships.cohort_id", "refers to no cohort"))?;
            cohorts_by_partner.entry(partnership.delivery_partner_id).or_default().push(cohort);
        }

        rows.into_iter()
            .map(|row| {
                let cohorts = cohorts_by_partner.remove(&row.id).unwrap_or_default();
                let partner = DeliveryPartner {
                    id: DeliveryPartnerId::from_uuid(row.public_id),
                    name: row.name,
                    created_at: row.created_at,
                    updated_at: row.updated_at,
                };
                Ok(DeliveryPartnerView { partner, cohorts })
            })
            .collect()
    }
}

/// Returns a subquery of the internal ids of the partners with a partnership with the lead
/// provider, in one of `cohort_ids` when given.
fn partners_of(provider_id: i64, cohort_ids: Option<Vec<i64>>) -> sea_orm::sea_query::SelectStatement {
    let mut subquery = Query::select();
    subquery
        .column(delivery_partnership::Column::DeliveryPartnerId)
        .from(delivery_partnership::Entity)
        .and_where(Expr::col(delivery_partnership::Column::LeadProviderId).eq(provider_id));
    if let Some(cohort_ids) = cohort_ids {
        subquery.and_where(Expr::col(delivery_partnership::Column::CohortId).is_in(cohort_ids));
    }
    subquery.to_owned()
}

#[async_trait]
impl DeliveryPartnerRepository for Store {
    async fn list_delivery_partners(
        &self,
        lead_provider: LeadProviderId,
        query: &DeliveryPartnerQuery,
    ) -> Result<Vec<DeliveryPartnerView>, StoreError> {
        let Some(provider) = self.lead_provider_row(lead_provider).await? else { return Ok(Vec::new()) };
        let cohort_ids = match &query.cohorts {
            None => None,
            Some(selectors) => {
                let ids: Vec<i64> = self
                    .cohort_identifiers()
                    .await?
                    .into_iter()
                    .filter(|(_, identifier)| selectors.iter().any(|selector| selector.matches(*identifier)))
                    .map(|(id, _)| id)
                    .collect();
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                Some(ids)
            }
        };

        // A subquery, not a join, so that a partner with several partnerships appears once.
        let mut select = delivery_partner::Entity::find()
            .filter(delivery_partner::Column::Id.in_subquery(partners_of(provider.id, cohort_ids)));
        for (field, direction) in query.sort.keys() {
            // NOTE: names sort by the database's collation: byte order on SQLite, and the
            // database's locale on PostgreSQL, so mixed-case names may order differently there.
            let column = match field {
                DeliveryPartnerSortField::Name => delivery_partner::Column::Name,
                DeliveryPartnerSortField::CreatedAt => delivery_partner::Column::CreatedAt,
                DeliveryPartnerSortField::UpdatedAt => delivery_partner::Column::UpdatedAt,
            };
            let order = match direction {
                Direction::Ascending => Order::Asc,
                Direction::Descending => Order::Desc,
            };
            select = select.order_by(column, order);
        }
        // Insertion order breaks ties, so the order is total and pages never overlap.
        select = select.order_by(delivery_partner::Column::Id, Order::Asc);

        let rows = select
            .limit(u64::from(query.page.per_page()))
            .offset(query.page.offset())
            .all(&self.db)
            .await
            .map_err(to_store_error)?;
        self.delivery_partner_views(provider.id, rows).await
    }

    async fn find_delivery_partner(
        &self,
        lead_provider: LeadProviderId,
        id: DeliveryPartnerId,
    ) -> Result<Option<DeliveryPartnerView>, StoreError> {
        let Some(provider) = self.lead_provider_row(lead_provider).await? else { return Ok(None) };
        let row = delivery_partner::Entity::find()
            .filter(delivery_partner::Column::PublicId.eq(id.as_uuid()))
            .filter(delivery_partner::Column::Id.in_subquery(partners_of(provider.id, None)))
            .one(&self.db)
            .await
            .map_err(to_store_error)?;
        let Some(row) = row else { return Ok(None) };
        Ok(self.delivery_partner_views(provider.id, vec![row]).await?.into_iter().next())
    }
}
