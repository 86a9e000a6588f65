//! ACLED event types and interaction codes (in progress).
