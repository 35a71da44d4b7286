//! The statement service: lead providers read their statements, DfE staff create and change them
//! and authorise payment, and the deadline job marks statements payable. Each change runs in one
//! transaction of the [`StatementStore`].

use chrono::NaiveDate;

use crate::error::DomainError;
use crate::ids::{AdjustmentId, LeadProviderId, StatementId};
use crate::payment::{CalculationError, Pence, StatementCalculation};
use crate::ports::{Clock, StatementStore};
use crate::statement::{Statement, StatementState, statements_due_payable};
use crate::statement_actions::{
    ContractRequest, DateChange, NewStatementRequest, StatementChange, StatementContents, StatementPlan,
    StatementQuery, plan_adjustment, plan_contract, plan_date_change, plan_mark_paid, plan_mark_payable,
    plan_new_statement,
};

/// A statement as DfE staff see it: everything on it, and the money it pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementReport {
    pub contents: StatementContents,
    /// The calculation, or why the stored contents cannot be calculated.
    pub calculation: Result<StatementCalculation, CalculationError>,
}

impl From<StatementContents> for StatementReport {
    fn from(contents: StatementContents) -> Self {
        let calculation = contents.calculate();
        Self { contents, calculation }
    }
}

/// A statement the deadline job marked payable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkedPayable {
    pub statement: StatementId,
    /// Declarations that became payable with it.
    pub declarations: usize,
}

/// The outcome of one run of the deadline job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineRun {
    /// The day the run counted as today: statements whose deadline is before it were due.
    pub today: NaiveDate,
    /// Statements marked payable, earliest deadline first.
    pub marked: Vec<MarkedPayable>,
    /// Statements that were due but had become payable by another route before this run reached
    /// them.
    pub already_payable: Vec<StatementId>,
    /// Statements that were due but could not be marked payable, with the reason. The next run
    /// tries them again.
    pub failed: Vec<(StatementId, DomainError)>,
}

/// Reads and changes statements.
#[derive(Debug, Clone)]
pub struct StatementService<S, C> {
    store: S,
    clock: C,
}

impl<S: StatementStore, C: Clock> StatementService<S, C> {
    pub fn new(store: S, clock: C) -> Self {
        Self { store, clock }
    }

    /// Returns one page of the lead provider's statements with output fees.
    pub async fn list(
        &self,
        lead_provider: LeadProviderId,
        query: &StatementQuery,
    ) -> Result<Vec<Statement>, DomainError> {
        Ok(self.store.list_statements(lead_provider, query).await?)
    }

    /// Returns one of the lead provider's statements with output fees. Another provider's
    /// statement and a statement of service fees only are [`DomainError::NotFound`].
    pub async fn show(&self, lead_provider: LeadProviderId, id: StatementId) -> Result<Statement, DomainError> {
        self.store.find_statement(lead_provider, id).await?.ok_or(DomainError::NotFound)
    }

    /// Returns one page of every statement, optionally of one lead provider, for DfE staff.
    pub async fn admin_list(
        &self,
        lead_provider: Option<LeadProviderId>,
        query: &StatementQuery,
    ) -> Result<Vec<Statement>, DomainError> {
        Ok(self.store.list_all_statements(lead_provider, query).await?)
    }

    /// Returns any statement with its contents and calculation, for DfE staff.
    pub async fn admin_show(&self, id: StatementId) -> Result<StatementReport, DomainError> {
        let contents = self.store.statement_contents(id).await?.ok_or(DomainError::NotFound)?;
        Ok(contents.into())
    }

    /// Creates an open statement (see [`plan_new_statement`] for the checks).
    pub async fn create(&self, request: NewStatementRequest) -> Result<StatementReport, DomainError> {
        let now = self.clock.now();
        let (lead_provider, cohort) = (request.lead_provider, request.cohort);
        let rule = Box::new(move |context: &_| {
            plan_new_statement(&request, context, StatementId::new_random(), now).map_err(DomainError::Invalid)
        });
        let statement = self.store.create_statement(lead_provider, cohort, rule).await?;
        self.admin_show(statement.id).await
    }

    /// Runs `rule` on the statement's contents in one transaction and returns the statement
    /// afterwards.
    async fn change(
        &self,
        id: StatementId,
        rule: impl FnOnce(&StatementContents) -> Result<StatementPlan, DomainError> + Send + 'static,
    ) -> Result<StatementChange, DomainError> {
        self.store.change_statement(id, self.clock.now(), Box::new(rule)).await?.ok_or(DomainError::NotFound)
    }

    /// Moves the deadline, the payment date or both of an open statement (see
    /// [`plan_date_change`]).
    pub async fn change_dates(&self, id: StatementId, change: DateChange) -> Result<StatementReport, DomainError> {
        let now = self.clock.now();
        let rule = move |contents: &StatementContents| {
            plan_date_change(&contents.statement, change, now).map(StatementPlan::Update).map_err(DomainError::Invalid)
        };
        Ok(self.change(id, rule).await?.contents.into())
    }

    /// Adds the statement's contract for a course, or replaces it, while the statement is open
    /// (see [`plan_contract`]).
    pub async fn put_contract(
        &self,
        id: StatementId,
        request: ContractRequest,
    ) -> Result<StatementReport, DomainError> {
        let rule = move |contents: &StatementContents| {
            plan_contract(&contents.statement, &request).map(StatementPlan::PutContract).map_err(DomainError::Invalid)
        };
        Ok(self.change(id, rule).await?.contents.into())
    }

    /// Adds an adjustment to a statement that is not paid (see [`plan_adjustment`]).
    pub async fn add_adjustment(
        &self,
        id: StatementId,
        description: String,
        amount: Pence,
    ) -> Result<StatementReport, DomainError> {
        let now = self.clock.now();
        let rule = move |contents: &StatementContents| {
            plan_adjustment(&contents.statement, &description, amount, AdjustmentId::new_random(), now)
                .map(StatementPlan::AddAdjustment)
                .map_err(DomainError::Invalid)
        };
        Ok(self.change(id, rule).await?.contents.into())
    }

    /// Marks an open statement payable once its deadline has passed (see [`plan_mark_payable`]).
    pub async fn mark_payable(&self, id: StatementId) -> Result<StatementReport, DomainError> {
        let now = self.clock.now();
        let rule = move |contents: &StatementContents| {
            plan_mark_payable(contents, now).map(StatementPlan::Transition).map_err(DomainError::Invalid)
        };
        Ok(self.change(id, rule).await?.contents.into())
    }

    /// Marks a payable statement paid, as DfE's authorisation of the payment, and records what it
    /// paid for each declaration (see [`plan_mark_paid`]).
    pub async fn mark_paid(&self, id: StatementId) -> Result<StatementReport, DomainError> {
        let now = self.clock.now();
        let rule = move |contents: &StatementContents| {
            plan_mark_paid(contents, now).map(StatementPlan::Transition).map_err(DomainError::Invalid)
        };
        Ok(self.change(id, rule).await?.contents.into())
    }

    /// Runs the deadline job: marks payable every open statement whose deadline is before today
    /// (see [`statements_due_payable`]), each in its own transaction, earliest deadline first.
    /// A statement whose deadline passed days ago is included, so a missed run strands nothing.
    /// One statement that fails does not stop the others.
    ///
    /// # Errors
    ///
    /// Only when the open statements cannot be read; failures of single statements are in
    /// [`DeadlineRun::failed`].
    pub async fn run_deadlines(&self) -> Result<DeadlineRun, DomainError> {
        let now = self.clock.now();
        let today = now.date_naive();
        let open = self.store.open_statements().await?;
        let due: Vec<StatementId> = statements_due_payable(&open, today).iter().map(|statement| statement.id).collect();

        let mut run = DeadlineRun { today, marked: Vec::new(), already_payable: Vec::new(), failed: Vec::new() };
        for id in due {
            let rule = move |contents: &StatementContents| {
                if contents.statement.state != StatementState::Open {
                    return Ok(StatementPlan::Unchanged);
                }
                plan_mark_payable(contents, now).map(StatementPlan::Transition).map_err(DomainError::Invalid)
            };
            match self.store.change_statement(id, now, Box::new(rule)).await {
                Ok(Some(StatementChange { plan: StatementPlan::Transition(plan), .. })) => {
                    run.marked.push(MarkedPayable { statement: id, declarations: plan.changes.len() });
                }
                Ok(Some(_)) => run.already_payable.push(id),
                Ok(None) => run.failed.push((id, DomainError::NotFound)),
                Err(error) => run.failed.push((id, error)),
            }
        }
        Ok(run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    use crate::Timestamp;
    use crate::course::Course;
    use crate::declaration::DeclarationState;
    use crate::declaration_actions::Declaration;
    use crate::ids::{ApplicationId, DeclarationId, ParticipantId};
    use crate::listing::{PageRequest, parse_cohort_filter};
    use crate::payment::{DeclarationPayment, StatementItemInput};
    use crate::schedule::DeclarationType;
    use crate::statement::StatementItemState;
    use crate::statement_actions::{ContractRequest, ItemKind, StatementLine};
    use crate::testing::{FixedClock, MemoryStore, block_on, lead_provider};

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn at(text: &str) -> Timestamp {
        chrono::Utc.from_utc_datetime(&day(text).and_hms_opt(9, 30, 0).unwrap())
    }

    fn statement(provider: LeadProviderId, cohort: &str, month: u32, deadline: &str) -> Statement {
        let deadline = day(deadline);
        Statement {
            id: StatementId::new_random(),
            lead_provider: provider,
            cohort: cohort.parse().unwrap(),
            year: 2025,
            month,
            deadline_date: Some(deadline),
            payment_date: Some(deadline + chrono::Duration::days(30)),
            output_fee: true,
            state: StatementState::Open,
            marked_as_paid_at: None,
            reconcile_amount: Pence::ZERO,
            created_at: at("2025-01-02"),
            updated_at: at("2025-01-02"),
        }
    }

    fn service(
        store: &std::sync::Arc<MemoryStore>,
        now: &str,
    ) -> StatementService<std::sync::Arc<MemoryStore>, FixedClock> {
        StatementService::new(store.clone(), FixedClock(at(now)))
    }

    fn line(declaration: DeclarationId, state: DeclarationState, item: StatementItemState) -> StatementLine {
        StatementLine {
            kind: if item == StatementItemState::AwaitingClawback { ItemKind::Clawback } else { ItemKind::Output },
            declaration_state: state,
            item: StatementItemInput {
                declaration,
                participant: ParticipantId::new_random(),
                course: Course::Headship,
                declaration_type: DeclarationType::Started,
                state: item,
                targeted_delivery_funding_eligible: false,
                eligible_for_funding: true,
                amount_paid: None,
            },
        }
    }

    fn ids(statements: &[Statement]) -> Vec<StatementId> {
        statements.iter().map(|statement| statement.id).collect()
    }

    #[test]
    fn deadline_job_catches_a_deadline_three_days_past() {
        let provider = lead_provider("Teach First");
        let store = std::sync::Arc::new(MemoryStore::with_reference_data(vec![provider.clone()]));
        let missed = statement(provider.id, "2025a", 9, "2025-08-25");
        let service_fee_only = Statement { output_fee: false, ..statement(provider.id, "2025a", 10, "2025-08-26") };
        let future = statement(provider.id, "2025a", 11, "2025-08-28");
        let eligible = DeclarationId::new_random();
        *store.statements.lock().unwrap() = vec![missed.clone(), service_fee_only.clone(), future.clone()];
        *store.statement_lines.lock().unwrap() =
            vec![(missed.id, line(eligible, DeclarationState::Eligible, StatementItemState::Eligible))];

        let run = block_on(service(&store, "2025-08-28").run_deadlines()).unwrap();

        assert_eq!(run.today, day("2025-08-28"));
        let marked: Vec<(StatementId, usize)> =
            run.marked.iter().map(|marked| (marked.statement, marked.declarations)).collect();
        assert_eq!(marked, [(missed.id, 1), (service_fee_only.id, 0)]);
        assert!(run.failed.is_empty());
        assert!(run.already_payable.is_empty());
        let lines = store.statement_lines.lock().unwrap().clone();
        assert_eq!(lines[0].1.item.state, StatementItemState::Payable);
        assert_eq!(lines[0].1.declaration_state, DeclarationState::Payable);

        let again = block_on(service(&store, "2025-08-28").run_deadlines()).unwrap();
        assert!(again.marked.is_empty(), "a second run finds nothing due");
    }

    #[test]
    fn provider_sees_only_its_output_fee_statements() {
        let provider = lead_provider("Teach First");
        let other = lead_provider("Ambition Institute");
        let store = std::sync::Arc::new(MemoryStore::with_reference_data(vec![provider.clone(), other.clone()]));
        let late = statement(provider.id, "2025a", 11, "2025-10-25");
        let early = statement(provider.id, "2024a", 9, "2025-08-25");
        let undated = Statement { payment_date: None, ..statement(provider.id, "2025a", 12, "2025-11-25") };
        let service_fee_only = Statement { output_fee: false, ..statement(provider.id, "2025a", 10, "2025-09-25") };
        let others = statement(other.id, "2025a", 9, "2025-08-25");
        *store.statements.lock().unwrap() =
            vec![undated.clone(), late.clone(), service_fee_only.clone(), others.clone(), early.clone()];
        let service = service(&store, "2025-08-01");

        let all = block_on(service.list(provider.id, &StatementQuery::default())).unwrap();
        assert_eq!(ids(&all), [early.id, late.id, undated.id]);
        let query = StatementQuery { cohorts: parse_cohort_filter(Some("2025")).unwrap(), ..StatementQuery::default() };
        assert_eq!(ids(&block_on(service.list(provider.id, &query)).unwrap()), [late.id, undated.id]);
        let second_page =
            StatementQuery { page: PageRequest::new(Some(2), Some(2)).unwrap(), ..StatementQuery::default() };
        assert_eq!(ids(&block_on(service.list(provider.id, &second_page)).unwrap()), [undated.id]);

        assert_eq!(block_on(service.show(provider.id, service_fee_only.id)), Err(DomainError::NotFound));
        assert_eq!(block_on(service.show(provider.id, others.id)), Err(DomainError::NotFound));
        assert_eq!(block_on(service.show(provider.id, late.id)).unwrap(), late);
        let everything = block_on(service.admin_list(Some(provider.id), &StatementQuery::default())).unwrap();
        assert_eq!(everything.len(), 4);
    }

    #[test]
    fn paying_claws_back_and_touches_declarations() {
        let provider = lead_provider("Teach First");
        let store = std::sync::Arc::new(MemoryStore::with_reference_data(vec![provider.clone()]));
        let payable = Statement { state: StatementState::Payable, ..statement(provider.id, "2025a", 9, "2025-08-25") };
        let paid_id = DeclarationId::new_random();
        let clawed_id = DeclarationId::new_random();
        *store.statements.lock().unwrap() = vec![payable.clone()];
        *store.statement_lines.lock().unwrap() = vec![
            (payable.id, line(paid_id, DeclarationState::Payable, StatementItemState::Payable)),
            (payable.id, line(clawed_id, DeclarationState::AwaitingClawback, StatementItemState::AwaitingClawback)),
        ];
        store
            .declaration_payments
            .lock()
            .unwrap()
            .insert(clawed_id, DeclarationPayment { output: Pence(29_250), targeted_delivery_funding: Pence::ZERO });
        let service = service(&store, "2025-09-20");

        let unpaid = block_on(service.mark_paid(payable.id)).unwrap_err();
        let DomainError::Invalid(errors) = unpaid else { panic!("expected a rejection, got {unpaid:?}") };
        assert_eq!(errors[0].attribute, "contracts");

        let contract = ContractRequest {
            course: Course::Headship,
            per_participant: Pence(195_000),
            recruitment_target: 50,
            service_fee_instalments: 19,
            output_payment_percentage: None,
            number_of_payment_periods: None,
            service_fee_percentage: None,
            monthly_service_fee: None,
            targeted_delivery_funding_per_participant: None,
            special_course: false,
        };
        let refused = block_on(service.put_contract(payable.id, contract.clone())).unwrap_err();
        assert!(matches!(refused, DomainError::Invalid(_)), "a payable statement's contracts are fixed");
        store.contracts.lock().unwrap().push((
            payable.id,
            crate::statement_actions::plan_contract(
                &Statement { state: StatementState::Open, ..payable.clone() },
                &contract,
            )
            .unwrap(),
        ));

        let report = block_on(service.mark_paid(payable.id)).unwrap();

        assert_eq!(report.contents.statement.state, StatementState::Paid);
        let states: Vec<DeclarationState> = report.contents.lines.iter().map(|line| line.declaration_state).collect();
        assert_eq!(states, [DeclarationState::Paid, DeclarationState::ClawedBack]);
        let calculation = report.calculation.unwrap();
        // 60% of £1950 over 4 periods is £292.50, paid once and taken back once.
        assert_eq!(calculation.totals.output_payments, Pence(29_250));
        assert_eq!(calculation.totals.clawbacks, Pence(29_250));
        let recorded = store.declaration_payments.lock().unwrap().get(&paid_id).copied();
        assert_eq!(
            recorded,
            Some(DeclarationPayment { output: Pence(29_250), targeted_delivery_funding: Pence::ZERO })
        );
    }

    #[test]
    fn paying_moves_stored_declarations() {
        let provider = lead_provider("Teach First");
        let store = std::sync::Arc::new(MemoryStore::with_reference_data(vec![provider.clone()]));
        let open = statement(provider.id, "2025a", 9, "2025-08-25");
        let declaration_id = DeclarationId::new_random();
        *store.statements.lock().unwrap() = vec![open.clone()];
        *store.statement_lines.lock().unwrap() =
            vec![(open.id, line(declaration_id, DeclarationState::Eligible, StatementItemState::Eligible))];
        store.stored_declarations.lock().unwrap().push(sample_declaration(declaration_id, provider.id));

        block_on(service(&store, "2025-08-26").mark_payable(open.id)).unwrap();

        let stored = store.stored_declarations.lock().unwrap()[0].clone();
        assert_eq!(stored.state, DeclarationState::Payable);
        assert_eq!(stored.updated_at, at("2025-08-26"));
    }

    fn sample_declaration(id: DeclarationId, provider: LeadProviderId) -> Declaration {
        Declaration {
            id,
            participant_id: ParticipantId::new_random(),
            application_id: ApplicationId::new_random(),
            course: Course::Headship,
            cohort: "2025a".parse().unwrap(),
            lead_provider_id: provider,
            lead_provider_name: "Teach First".to_owned(),
            declaration_type: DeclarationType::Started,
            declaration_date: at("2025-07-01"),
            state: DeclarationState::Eligible,
            ineligibility_reason: None,
            superseded_by: None,
            delivery_partner: None,
            secondary_delivery_partner: None,
            statement_id: None,
            clawback_statement_id: None,
            latest_outcome: None,
            targeted_delivery_funding: false,
            created_at: at("2025-07-01"),
            updated_at: at("2025-07-01"),
        }
    }
}
