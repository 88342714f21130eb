//! End-to-end tests of `cairn-client` against the real server, in-process on loopback HTTP.
//! One binary (house style rule 17); each module is one area of behaviour.

mod api;
mod distributed;
mod download;
mod draft;
mod log;
