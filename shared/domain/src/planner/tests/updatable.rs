//! Which sessions the planner may change at all.

use super::*;

const PREVIEW: UpdatePolicy = UpdatePolicy {
    require_server_only_permission: true,
    require_own_session: true,
};

#[test]
fn only_open_elements_sessions_are_updatable() {
    type Mutation = fn(&mut SessionSnapshot);
    let cases: [(Mutation, NotUpdatableReason); 5] = [
        (
            |s| s.status = SessionStatus::Expired,
            NotUpdatableReason::NotOpen,
        ),
        (
            |s| s.status = SessionStatus::Complete,
            NotUpdatableReason::NotOpen,
        ),
        (
            |s| s.ui_mode = UiMode::Hosted,
            NotUpdatableReason::NotElementsSession,
        ),
        (|s| s.line_items.clear(), NotUpdatableReason::EmptyCart),
        (|s| s.metadata.clear(), NotUpdatableReason::NotCreatedHere),
    ];
    for (mutate, reason) in cases {
        let mut cart = monthly_cart();
        mutate(&mut cart);
        assert_eq!(
            plan(&cart, &yearly(), &catalog(1), GA),
            Err(Rejection::NotUpdatable(reason))
        );
    }
}

#[test]
fn the_preview_api_also_requires_the_server_only_permission() {
    let mut cart = monthly_cart();
    cart.update_line_items_permission = Some(UpdateLineItemsPermission::ClientOnly);
    assert_eq!(
        plan(&cart, &yearly(), &catalog(1), PREVIEW),
        Err(Rejection::NotUpdatable(
            NotUpdatableReason::LineItemsNotServerOnly
        ))
    );
    // The GA API has no such permission, so its absence is fine there.
    cart.update_line_items_permission = None;
    assert!(plan(&cart, &yearly(), &catalog(1), GA).is_ok());
    assert!(plan(&cart, &yearly(), &catalog(1), PREVIEW).is_err());
}
