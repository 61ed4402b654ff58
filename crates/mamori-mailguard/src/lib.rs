//! # mamori-mailguard
//!
//! Mamori's **outbound mail guard** (being built): for now the terms the guard shares
//! ([`decision`]) and the look-alike recipient domain check ([`lookalike`]).

pub mod decision;
pub mod lookalike;
