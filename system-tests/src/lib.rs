//! Tests of the whole system live in `tests/`: the real cloud server, the gateway library and
//! its daemon, and virtual PODs behind a virtual BLED112, wired together as in the field. The
//! cloud's test harness is shared from `cloud/tests/common`. The crate itself has no code; it
//! exists so that these tests may depend on both the cloud and the gateway, which never
//! depend on each other.
