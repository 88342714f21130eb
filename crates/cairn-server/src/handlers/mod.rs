//! The route handlers of the native API, one module per area. Each parses its request, calls
//! one function of the domain (`cairn_service::Service`), and turns the answer into `cairn-api`
//! wire types (`crate::wire`); refusals become problems in `crate::error`.

pub(crate) mod accounts;
pub(crate) mod download;
pub(crate) mod links;
pub(crate) mod projects;
pub(crate) mod receive;
pub(crate) mod runs;
pub(crate) mod server;
pub(crate) mod upload;
pub(crate) mod versions;
