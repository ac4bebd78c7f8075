//! The request pipeline every handler shares (4 sequential remote round trips, 5 with a stock move):
//! parse (pure) → claim idempotency + session lease (1) → retrieve the session (2) → plan (pure)
//! → move stock holds when quantities of tracked SKUs change (3) → update Stripe with the entire
//! `line_items` array (4), moving the stock back if Stripe refuses → store the response + release.
//!
//! The lease is taken BEFORE the session is read: a read that overlapped a wait for the lease could
//! see the cart before the previous holder's update landed, and the whole-array update would then
//! silently undo that update.

mod admission;
mod app;
mod change;
mod create;
mod failure;
mod flow;
mod lifetime;
mod signature;
mod stripe_keys;
pub mod sweeper;
pub mod webhook;

pub use app::{App, Operation, Parser};

#[cfg(test)]
mod tests;
