//! `kalei analyze`: the offline analysis engine on the command line (SPEC section 3).
//! Owned by the analysis-engine work (issue 3).

use std::io::{Read, Write};

/// Runs `kalei analyze`. Returns the process exit code.
pub fn run(_jsonl: bool, _input: impl Read, _out: impl Write, _err: impl Write) -> i32 {
    unimplemented!("issue 3")
}
