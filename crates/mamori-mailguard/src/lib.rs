//! # mamori-mailguard
//!
//! Mamori's **outbound mail guard** (being built): the terms the guard shares
//! ([`decision`]), the look-alike recipient domain check ([`lookalike`]), a message read
//! ([`message`]), and the transport: the ESMTP server and client ([`smtp`]), the durable
//! queue ([`spool`]) and the relay that ties them ([`relay`]).

pub mod decision;
pub mod lookalike;
pub mod message;
pub mod relay;
pub mod smtp;
pub mod spool;
