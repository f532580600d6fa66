//! The simulator from outside: each provider's documented requests and
//! answers, rules, rate limits, dropped connections, templates, control
//! endpoints, status callbacks and customers' inbound messages. One test
//! binary; every test runs the server in-process on 127.0.0.1:0 and is
//! bounded in time.

mod callbacks;
mod common;
mod control;
mod gateway;
mod gupshup;
mod inbound;
mod meta;
mod twilio;
