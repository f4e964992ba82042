//! `kalei analyze`: the offline analysis engine on the command line (SPEC section 3).
//! Owned by the analysis-engine work (issue 3).
//!
//! * Without `--jsonl`: reads all of stdin as one text and prints one JSON
//!   analysis object followed by a newline. Empty / whitespace-only input or
//!   invalid UTF-8 → message on stderr, exit code 2.
//! * With `--jsonl`: each non-blank input line is `{"id": <any JSON>, "text": "…"}`;
//!   for each one a line `{"id": …, "analysis": {…}}` is written, in order,
//!   flushed per line (streaming). A malformed line (bad JSON, missing or
//!   non-string `text`, invalid UTF-8) is reported on stderr with its line
//!   number and skipped; the others are still processed and the exit code is
//!   1 if any line failed. Output errors (closed pipe) stop early with exit
//!   code 1. Never panics on input.

use std::io::{BufRead, BufReader, Read, Write};

use serde::Serialize;

#[derive(Serialize)]
struct Line<'a> {
    id: &'a serde_json::Value,
    analysis: &'a kalei_analysis::Analysis,
}

/// Runs `kalei analyze`. Returns the process exit code.
pub fn run(jsonl: bool, input: impl Read, out: impl Write, err: impl Write) -> i32 {
    if jsonl {
        run_jsonl(input, out, err)
    } else {
        run_single(input, out, err)
    }
}

fn run_single(mut input: impl Read, mut out: impl Write, mut err: impl Write) -> i32 {
    let mut buf = Vec::new();
    if let Err(e) = input.read_to_end(&mut buf) {
        let _ = writeln!(err, "kalei analyze: cannot read standard input: {e}");
        return 2;
    }
    let text = match std::str::from_utf8(&buf) {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(
                err,
                "kalei analyze: input is not valid UTF-8 (invalid byte sequence at byte offset {})",
                e.valid_up_to()
            );
            return 2;
        }
    };
    if text.trim().is_empty() {
        let _ = writeln!(
            err,
            "kalei analyze: no text on standard input (expected the text to analyse, e.g. `echo \"...\" | kalei analyze`)"
        );
        return 2;
    }
    let analysis = kalei_analysis::analyze(text);
    let json = match serde_json::to_string_pretty(&analysis) {
        Ok(j) => j,
        Err(e) => {
            let _ = writeln!(err, "kalei analyze: cannot serialise the analysis: {e}");
            return 1;
        }
    };
    if writeln!(out, "{json}").and_then(|_| out.flush()).is_err() {
        let _ = writeln!(err, "kalei analyze: cannot write to standard output");
        return 1;
    }
    0
}

fn run_jsonl(input: impl Read, mut out: impl Write, mut err: impl Write) -> i32 {
    let mut reader = BufReader::new(input);
    let mut raw = Vec::with_capacity(4096);
    let mut line_no = 0usize;
    let mut failed = 0usize;
    loop {
        raw.clear();
        match reader.read_until(b'\n', &mut raw) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                let _ = writeln!(
                    err,
                    "kalei analyze: cannot read standard input after line {line_no}: {e}"
                );
                return 1;
            }
        }
        line_no += 1;
        let bytes = trim_eol(&raw);
        let line = match std::str::from_utf8(bytes) {
            Ok(l) => l,
            Err(e) => {
                failed += 1;
                let _ = writeln!(
                    err,
                    "kalei analyze: line {line_no}: not valid UTF-8 (invalid byte sequence at byte offset {})",
                    e.valid_up_to()
                );
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                failed += 1;
                let _ = writeln!(err, "kalei analyze: line {line_no}: invalid JSON: {e}");
                continue;
            }
        };
        let Some(obj) = value.as_object() else {
            failed += 1;
            let _ = writeln!(
                err,
                "kalei analyze: line {line_no}: expected a JSON object {{\"id\": …, \"text\": \"…\"}}"
            );
            continue;
        };
        let text = match obj.get("text") {
            Some(serde_json::Value::String(t)) => t,
            Some(_) => {
                failed += 1;
                let _ = writeln!(
                    err,
                    "kalei analyze: line {line_no}: field \"text\" must be a string"
                );
                continue;
            }
            None => {
                failed += 1;
                let _ = writeln!(err, "kalei analyze: line {line_no}: missing field \"text\"");
                continue;
            }
        };
        let id = obj.get("id").unwrap_or(&serde_json::Value::Null);
        let analysis = kalei_analysis::analyze(text);
        let rec = Line {
            id,
            analysis: &analysis,
        };
        let written = serde_json::to_writer(&mut out, &rec)
            .map_err(std::io::Error::from)
            .and_then(|_| out.write_all(b"\n"))
            .and_then(|_| out.flush());
        if let Err(e) = written {
            let _ = writeln!(
                err,
                "kalei analyze: cannot write output for line {line_no}: {e}"
            );
            return 1;
        }
    }
    if failed > 0 {
        let _ = writeln!(
            err,
            "kalei analyze: {failed} line{} failed",
            if failed == 1 { "" } else { "s" }
        );
        1
    } else {
        0
    }
}

fn trim_eol(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(jsonl: bool, input: &[u8]) -> (i32, String, String) {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let code = run(jsonl, input, &mut out, &mut err);
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn single_text_prints_one_object() {
        let (code, out, err) = exec(false, "I always mess everything up.\n".as_bytes());
        assert_eq!(code, 0, "{err}");
        assert!(out.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(v["sentiment"]["polarity"].is_number());
        assert!(v["emotions"]["valence"].is_number());
        assert_eq!(v["fragments"][0]["type"], "overgeneralization");
        assert_eq!(v["crisis"]["level"], "none");
    }

    #[test]
    fn empty_and_whitespace_input_exit_2() {
        for input in [&b""[..], b"   \n\t  \n"] {
            let (code, out, err) = exec(false, input);
            assert_eq!(code, 2);
            assert!(out.is_empty());
            assert!(err.contains("no text"), "{err}");
        }
    }

    #[test]
    fn invalid_utf8_exit_2() {
        let (code, out, err) = exec(false, b"hello \xff\xfe world");
        assert_eq!(code, 2);
        assert!(out.is_empty());
        assert!(err.contains("UTF-8"), "{err}");
    }

    #[test]
    fn jsonl_streams_in_order_with_any_id() {
        let input = concat!(
            "{\"id\": 1, \"text\": \"I always mess everything up.\"}\n",
            "\n",
            "{\"id\": \"b\", \"text\": \"I want to kill myself.\"}\r\n",
            "{\"id\": {\"k\": [1,2]}, \"text\": \"Lovely day.\"}"
        );
        let (code, out, err) = exec(true, input.as_bytes());
        assert_eq!(code, 0, "{err}");
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["id"], 1);
        assert_eq!(lines[1]["id"], "b");
        assert_eq!(lines[1]["analysis"]["crisis"]["level"], "high");
        assert_eq!(lines[2]["id"]["k"][1], 2);
        assert!(lines[2]["analysis"]["fragments"]
            .as_array()
            .unwrap()
            .is_empty());
    }

    #[test]
    fn jsonl_bad_lines_are_reported_and_others_kept() {
        let mut input = Vec::new();
        input.extend_from_slice(b"{\"id\": 1, \"text\": \"fine\"}\n");
        input.extend_from_slice(b"{not json}\n");
        input.extend_from_slice(b"{\"id\": 3}\n");
        input.extend_from_slice(b"{\"id\": 4, \"text\": \"bad \xff utf8\"}\n");
        input.extend_from_slice(b"{\"id\": 5, \"text\": 42}\n");
        input.extend_from_slice(b"[1,2]\n");
        input.extend_from_slice(b"{\"id\": 7, \"text\": \"I'll never find a job.\"}\n");
        let (code, out, err) = exec(true, &input);
        assert_eq!(code, 1);
        let ids: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].clone())
            .collect();
        assert_eq!(ids, vec![serde_json::json!(1), serde_json::json!(7)]);
        for n in [2, 3, 4, 5, 6] {
            assert!(
                err.contains(&format!("line {n}:")),
                "line {n} not reported: {err}"
            );
        }
        assert!(!err.contains("line 1:") && !err.contains("line 7:"));
    }

    #[test]
    fn jsonl_missing_id_is_null_and_empty_input_ok() {
        let (code, out, _) = exec(true, b"{\"text\": \"hi\"}\n");
        assert_eq!(code, 0);
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert!(v["id"].is_null());
        let (code, out, _) = exec(true, b"");
        assert_eq!(code, 0);
        assert!(out.is_empty());
    }

    #[test]
    fn jsonl_flushes_per_line() {
        struct CountFlush {
            flushes: usize,
            buf: Vec<u8>,
        }
        impl Write for CountFlush {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.buf.extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                self.flushes += 1;
                Ok(())
            }
        }
        let mut w = CountFlush {
            flushes: 0,
            buf: Vec::new(),
        };
        let input =
            b"{\"id\":1,\"text\":\"a\"}\n{\"id\":2,\"text\":\"b\"}\n{\"id\":3,\"text\":\"c\"}\n";
        let code = run(true, &input[..], &mut w, std::io::sink());
        assert_eq!(code, 0);
        assert!(w.flushes >= 3);
        assert_eq!(w.buf.iter().filter(|&&b| b == b'\n').count(), 3);
    }

    #[test]
    fn closed_output_does_not_panic() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "closed",
                ))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        assert_eq!(
            run(
                true,
                &b"{\"id\":1,\"text\":\"a\"}\n"[..],
                Broken,
                std::io::sink()
            ),
            1
        );
        assert_eq!(run(false, &b"text"[..], Broken, std::io::sink()), 1);
    }
}
