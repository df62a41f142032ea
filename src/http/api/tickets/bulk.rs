//! Merging two tickets, and one change for many tickets at once.

#[allow(unused_imports)]
use super::*;
use crate::store::tickets::MergeAssignee;

/// Ticket numbers are integers; clients that send every id as a string are accepted too.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
pub enum NumberInput {
    Number(u64),
    Text(String),
}

impl NumberInput {
    fn get(&self, field: &str) -> AppResult<u64> {
        match self {
            NumberInput::Number(n) => Ok(*n),
            NumberInput::Text(s) => parse_id(s.trim_start_matches('#'), field),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// The ticket that survives (a ticket of the same customer).
    #[schema(value_type = u64)]
    pub into: NumberInput,
    /// Who answers the survivor: absent, the merged ticket's assignee (the one being worked
    /// on) when it may, else the survivor's own; a user id, or null for nobody.
    #[serde(default, deserialize_with = "crate::http::api::double_option")]
    #[schema(value_type = Option<String>)]
    pub assignee_id: Option<Option<String>>,
}

#[utoipa::path(post, path = "/api/v1/tickets/{number}/merge", tag = "tickets", params(("number" = u64, Path)), request_body = MergeBody,
    responses((status = 200, body = TicketView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn merge(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(number): ApiPath<u64>,
    ApiJson(body): ApiJson<MergeBody>,
) -> AppResult<Json<TicketView>> {
    let access = user.access(&state).await?;
    let into = body.into.get("into")?;
    let assignee = match &body.assignee_id {
        None => MergeAssignee::Current,
        Some(None) => MergeAssignee::Chosen(None),
        Some(Some(id)) => MergeAssignee::Chosen(Some(parse_id(id, "assignee_id")?)),
    };
    let t = desk::tickets::merge(&state.store, access, number, into, assignee).await?;
    Ok(Json(one_view(&state, t).await?))
}

#[derive(Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    Close,
    Ignore,
    Assign,
    /// Puts the tickets in a team (`team_id`, or null for none).
    Team,
    Label,
    /// Takes `label_id` off the tickets.
    Unlabel,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    #[schema(value_type = Option<Vec<u64>>)]
    pub numbers: Option<Vec<NumberInput>>,
    pub filter: Option<TicketFilter>,
    pub action: BulkAction,
    /// For `assign`: a user id, or null to un-assign.
    #[serde(default, deserialize_with = "crate::http::api::double_option")]
    #[schema(value_type = Option<String>)]
    pub assignee_id: Option<Option<String>>,
    /// For `team`: a team id, or null for no team.
    #[serde(default, deserialize_with = "crate::http::api::double_option")]
    #[schema(value_type = Option<String>)]
    pub team_id: Option<Option<String>>,
    /// For `label` and `unlabel`: the label to add or take off.
    pub label_id: Option<String>,
    /// For `close`/`ignore`: the final sentiment.
    pub sentiment_final: Option<Sentiment>,
}

#[derive(Serialize, ToSchema)]
pub struct BulkResult {
    pub updated: Vec<u64>,
    /// Tickets a close left open (a mandatory typification is empty), each with why.
    pub skipped: Vec<BulkSkipped>,
}

#[derive(Serialize, ToSchema)]
pub struct BulkSkipped {
    pub number: u64,
    pub code: String,
    pub message: String,
}

pub use crate::domain::ticket::BULK_MAX;

#[utoipa::path(post, path = "/api/v1/tickets/bulk", tag = "tickets", request_body = BulkBody,
    responses((status = 200, body = BulkResult), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn bulk(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<BulkBody>,
) -> AppResult<Json<BulkResult>> {
    let access = user.access(&state).await?;
    let numbers: Vec<u64> = match (&body.numbers, &body.filter) {
        (Some(n), None) => n
            .iter()
            .map(|x| x.get("numbers"))
            .collect::<AppResult<Vec<u64>>>()?,
        (None, Some(f)) => {
            let mut f = f.clone();
            f.limit = None;
            f.cursor = None;
            let mut q = to_query(&state, &user, &access, &f).await?;
            q.limit = BULK_MAX;
            let now = state.store.now();
            let (items, more) = state
                .store
                .read(move |txn| crate::store::index::list(txn, &q, now))
                .await?;
            if more {
                return Err(AppError::invalid(
                    "filter",
                    "too_many",
                    format!("the filter matches more than {BULK_MAX} tickets; narrow it"),
                ));
            }
            items.into_iter().map(|t| t.number).collect()
        }
        _ => {
            return Err(AppError::invalid(
                "numbers",
                "numbers_or_filter",
                "send either `numbers` or `filter`",
            ))
        }
    };
    let mut patch = TicketPatch::default();
    match body.action {
        BulkAction::Close | BulkAction::Ignore => {
            patch.state = Some(if body.action == BulkAction::Close {
                TicketState::Closed
            } else {
                TicketState::Ignored
            });
            if let Some(s) = body.sentiment_final {
                patch.sentiment_final = Some(Some(s));
            }
        }
        BulkAction::Assign => {
            patch.assignee_id = Some(match &body.assignee_id {
                Some(Some(id)) => Some(parse_id(id, "assignee_id")?),
                Some(None) => None,
                None => {
                    return Err(AppError::invalid(
                        "assignee_id",
                        "required",
                        "assign needs assignee_id (or null)",
                    ))
                }
            });
        }
        BulkAction::Team => {
            patch.team_id = Some(match &body.team_id {
                Some(Some(id)) => Some(parse_id(id, "team_id")?),
                Some(None) => None,
                None => {
                    return Err(AppError::invalid(
                        "team_id",
                        "required",
                        "team needs team_id (or null)",
                    ))
                }
            });
        }
        BulkAction::Label | BulkAction::Unlabel => {}
    }
    let label = match body.action {
        BulkAction::Label | BulkAction::Unlabel => Some(parse_id(
            body.label_id
                .as_deref()
                .ok_or_else(|| AppError::invalid("label_id", "required", "label needs label_id"))?,
            "label_id",
        )?),
        _ => None,
    };
    let labels = match body.action {
        BulkAction::Unlabel => desk::tickets::LabelChange::Remove(label),
        _ => desk::tickets::LabelChange::Add(label),
    };
    let outcome = desk::tickets::bulk(&state.store, access, numbers, patch, labels).await?;
    Ok(Json(BulkResult {
        updated: outcome.updated,
        skipped: outcome
            .skipped
            .into_iter()
            .map(|(number, message)| BulkSkipped {
                number,
                code: "typification_required".into(),
                message,
            })
            .collect(),
    }))
}
