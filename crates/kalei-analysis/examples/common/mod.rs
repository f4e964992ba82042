//! Shared helpers for the evaluation and benchmark examples.
#![allow(dead_code)]

use std::path::PathBuf;

/// One row of the distortion data set.
pub struct Row {
    pub text: String,
    pub part: String,
    pub dominant: String,
    pub secondary: String,
}

/// Default location of the dev set: `../shared/data/distortions-dev.csv`
/// relative to the repository root (never copied into the repository).
pub fn default_data_path() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.join("../shared/data/distortions-dev.csv")
}

/// Minimal RFC 4180 CSV reader (quoted fields, doubled quotes, newlines in quotes).
pub fn parse_csv(src: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut in_q = false;
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        if in_q {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    in_q = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => in_q = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

pub fn load_rows(path: &std::path::Path) -> Vec<Row> {
    let src = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut rows = parse_csv(&src);
    let header = rows.remove(0);
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').starts_with(name))
            .unwrap_or_else(|| panic!("missing column {name}"))
    };
    let (t, p, d, s) = (
        col("Patient Question"),
        col("Distorted part"),
        col("Dominant Distortion"),
        col("Secondary Distortion"),
    );
    rows.into_iter()
        .filter(|r| r.len() > d)
        .map(|r| Row {
            text: r[t].clone(),
            part: r[p].clone(),
            dominant: r[d].trim().to_string(),
            secondary: r.get(s).cloned().unwrap_or_default().trim().to_string(),
        })
        .collect()
}

/// Maps the data set's label to the engine's type name ("" = no distortion).
pub fn map_label(l: &str) -> &'static str {
    match l.to_ascii_lowercase().as_str() {
        "all-or-nothing thinking" => "all_or_nothing",
        "overgeneralization" => "overgeneralization",
        "mental filter" => "mental_filter",
        "mind reading" => "mind_reading",
        "fortune-telling" => "fortune_telling",
        "magnification" => "magnification",
        "emotional reasoning" => "emotional_reasoning",
        "should statements" => "should_statements",
        "labeling" => "labeling",
        "personalization" => "personalization",
        _ => "",
    }
}

pub const TEN: [&str; 10] = [
    "all_or_nothing",
    "overgeneralization",
    "mental_filter",
    "mind_reading",
    "fortune_telling",
    "magnification",
    "emotional_reasoning",
    "should_statements",
    "labeling",
    "personalization",
];
