//! mamori-store
