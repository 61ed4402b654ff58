//! mamori-ledger
