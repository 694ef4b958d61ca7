//! The sandbox proxy's readers of a command's first bytes (and of a server's answer head):
//! any bytes are read or refused, never past what was given, and a target they name has a
//! port.
#![no_main]

use kelp::sandbox::proxy::request::{
    Parsed, closing_answer_head, http_request, socks_greeting, socks_request, tunnel_opening,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Parsed::Done(_, used) = socks_greeting(bytes) {
        assert!(used <= bytes.len());
    }
    if let Parsed::Done(target, used) = socks_request(bytes) {
        assert!(used <= bytes.len() && target.port != 0);
    }
    if let Parsed::Done(request, used) = http_request(bytes) {
        assert!(used <= bytes.len() && request.target.port != 0);
    }
    if let Parsed::Done(_, used) = tunnel_opening(bytes) {
        assert!(used <= bytes.len());
    }
    if let Some(answer) = closing_answer_head(bytes) {
        assert!(answer.used <= bytes.len());
    }
});
