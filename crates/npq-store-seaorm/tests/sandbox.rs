//! The sandbox on both databases: declarations in every state, each line on a statement of the
//! declaration's lead provider and cohort.

use std::collections::HashSet;

use npq_store_seaorm::backend_tests;
use npq_store_seaorm::seed::{DEFAULT_SEED, seed};
use npq_store_seaorm::test_support::{Backend, TestDatabase};
use sea_orm::{ConnectionTrait, Statement};

async fn rows(database: &TestDatabase, sql: &str) -> Vec<sea_orm::QueryResult> {
    let connection = database.store.connection();
    connection.query_all_raw(Statement::from_string(connection.get_database_backend(), sql)).await.unwrap()
}

async fn sandbox_has_every_declaration_state(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let summary = seed(&database.store, 2_000, DEFAULT_SEED).await.unwrap();
    assert!(summary.declarations > 100, "{summary:?}");
    let states: HashSet<String> = rows(&database, "SELECT DISTINCT state FROM declarations")
        .await
        .iter()
        .map(|row| row.try_get::<String>("", "state").unwrap())
        .collect();
    for state in
        ["submitted", "eligible", "ineligible", "payable", "paid", "voided", "awaiting-clawback", "clawed-back"]
    {
        assert!(states.contains(state), "no {state} declaration in {states:?}");
    }
}

async fn billable_sandbox_declarations_sit_on_statements(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    seed(&database.store, 2_000, DEFAULT_SEED).await.unwrap();
    let billable = rows(
        &database,
        "SELECT COUNT(*) AS n FROM declarations WHERE state IN ('eligible', 'payable', 'paid', 'awaiting-clawback', 'clawed-back')",
    )
    .await[0]
        .try_get::<i64>("", "n")
        .unwrap();
    assert!(billable > 0);
    let on_own_statement = rows(
        &database,
        "SELECT COUNT(DISTINCT d.id) AS n FROM declarations d \
         JOIN statement_items i ON i.declaration_id = d.id AND i.kind = 'output' \
         JOIN statements s ON s.id = i.statement_id \
         WHERE d.state IN ('eligible', 'payable', 'paid', 'awaiting-clawback', 'clawed-back') \
           AND s.cohort_id = d.cohort_id AND s.lead_provider_id = d.lead_provider_id \
           AND ((d.state = 'eligible' AND i.state = 'eligible' AND s.state = 'open') \
             OR (d.state = 'payable' AND i.state = 'payable' AND s.state = 'payable') \
             OR (d.state IN ('paid', 'awaiting-clawback', 'clawed-back') AND i.state = 'paid' AND s.state = 'paid'))",
    )
    .await[0]
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(on_own_statement, billable, "every paid or payable declaration is on a matching statement");
    let clawbacks_elsewhere = rows(
        &database,
        "SELECT COUNT(*) AS n FROM statement_items c JOIN statement_items o \
           ON o.declaration_id = c.declaration_id AND o.kind = 'output' \
         WHERE c.kind = 'clawback' AND c.statement_id = o.statement_id",
    )
    .await[0]
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(clawbacks_elsewhere, 0, "a payment is taken back on a later statement");
}

backend_tests!(sandbox_has_every_declaration_state, billable_sandbox_declarations_sit_on_statements);
