//! Management and read operations, free of HTTP types: the HTTP layer parses a request, calls
//! one of these, and renders the result. One submodule per API dialect.

pub mod lts;
pub mod lts_query;
pub mod sls;
pub mod sls_query;
