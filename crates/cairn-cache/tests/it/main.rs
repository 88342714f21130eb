//! Integration tests of the cache's public API, including several real processes sharing one
//! cache.
