//! The shapes the API speaks, with their OpenAPI schemas.

use serde::{Deserialize, Serialize};
use simdesk_domain::money::Money;
use utoipa::ToSchema;

/// Money in minor units with its currency (JPY has no minor unit).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MoneyDto {
    pub value: i64,
    pub unit: String,
}

impl From<Money> for MoneyDto {
    fn from(m: Money) -> Self {
        MoneyDto {
            value: m.minor(),
            unit: m.currency().code().into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Ref {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Characteristic {
    pub name: String,
    pub value: String,
}

/// TMF637 Product: a line.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub id: String,
    pub href: String,
    pub name: String,
    /// created, active, suspended, pendingTerminate or terminated.
    pub status: String,
    pub product_specification: Ref,
    pub product_characteristic: Vec<Characteristic>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub termination_date: Option<String>,
    #[serde(rename = "@type")]
    pub kind: String,
}

/// TMF622 ProductOrder item.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductOrderItem {
    pub id: String,
    /// Only `delete` (cancel the line) is supported.
    pub action: String,
    pub product: Ref,
}

/// TMF622 ProductOrder creation: one item with `action: "delete"`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductOrderCreate {
    pub product_order_item: Vec<ProductOrderItem>,
    #[serde(default)]
    pub external_id: Option<String>,
    /// Why, for the record.
    #[serde(default)]
    pub description: Option<String>,
}

/// TMF622 ProductOrder: a cancellation request.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductOrder {
    pub id: String,
    pub href: String,
    /// acknowledged, inProgress, completed, rejected or cancelled.
    pub state: String,
    pub order_date: String,
    /// The effective date (Japan time), once approved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_completion_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_date: Option<String>,
    pub product_order_item: Vec<ProductOrderItem>,
    /// Identity checks the channel needs and those passed.
    pub identity_required: Vec<String>,
    pub identity_passed: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejection_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund: Option<MoneyDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    #[serde(rename = "@type")]
    pub kind: String,
}

/// TMF622 CancelProductOrder: withdraws a cancellation before it takes effect.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancelProductOrderCreate {
    pub product_order: Ref,
    #[serde(default)]
    pub cancellation_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancelProductOrder {
    pub id: String,
    pub state: String,
    pub product_order: ProductOrder,
}

/// TMF654 Bucket.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Bucket {
    pub id: String,
    pub name: String,
    /// `data` or `monetary`.
    pub usage_type: String,
    pub remaining_value: Quantity,
    pub initial_value: Quantity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    pub product: Ref,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Quantity {
    pub amount: i64,
    pub units: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SendCode {
    /// `line` (SMS to the line) or `email` (the registered address).
    #[serde(default)]
    pub to: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CheckCode {
    pub code: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct KnowledgeCheck {
    pub name: String,
    pub passport: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct DocumentReview {
    pub approve: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct Rejection {
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PayoutCreate {
    pub amount: MoneyDto,
    /// Card or bank reference the money goes to.
    pub destination: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Created {
    pub id: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Verdict {
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
}

/// TMF635 Usage: one usage record as it was rated.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub id: String,
    pub href: String,
    /// When the usage started.
    pub usage_date: String,
    /// `data`, `voice` or `sms`.
    pub usage_type: String,
    /// `rated`: every stored record was rated (a late one to nothing charged; see its tag).
    pub status: String,
    pub description: String,
    pub usage_characteristic: Vec<Characteristic>,
    pub rated_product_usage: Vec<RatedProductUsage>,
    #[serde(rename = "@type")]
    pub kind: String,
}

/// TMF635 RatedProductUsage: what one record took from the line.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RatedProductUsage {
    pub rating_date: String,
    /// `usage` for records paid from buckets, `writtenOff` for late records not charged.
    pub usage_rating_tag: String,
    pub is_billed: bool,
    /// Megabytes taken from data buckets.
    pub bucket_value_converted_in_amount: Quantity,
    /// Money taken from the balance, in minor units.
    pub tax_included_rating_amount: Quantity,
    pub product_ref: Ref,
}
