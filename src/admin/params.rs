//! Path parameters several operations of the admin API's OpenAPI document share, each written
//! once and listed by the handlers as `params(AgentId)` or `params(CampaignName)`.
//!
//! Describes only: the handlers read the segment themselves (`http::Segment`, which answers a
//! malformed one with the API's error body), so these types are never built; they exist for
//! their [`IntoParams`](utoipa::IntoParams) impls. A field's name is the `{…}` of the route's
//! path, its doc the parameter's description.

/// The `{id}` of `/agents/{id}/…`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(
    dead_code,
    reason = "described, never built: the handler reads the segment"
)]
pub(super) struct AgentId {
    /// Agent id
    #[param(example = "agent0001")]
    id: String,
}

/// The `{name}` of `/campaigns/{name}…`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(
    dead_code,
    reason = "described, never built: the handler reads the segment"
)]
pub(super) struct CampaignName {
    /// Campaign name
    #[param(example = "credit-verification")]
    name: String,
}
