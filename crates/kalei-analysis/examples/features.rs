//! Prints the distortion stage's document-level features for every dev-set
//! row as CSV (label first) on stdout, for looking at how each feature
//! separates distorted from non-distorted texts. The data is read in place.
//!
//! ```text
//! cargo run --release -p kalei-analysis --example features [-- PATH] > /tmp/features.csv
//! ```

mod common;

use common::*;

fn main() {
    let path = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(default_data_path);
    let rows = load_rows(&path);
    for (i, r) in rows.iter().enumerate() {
        let f = kalei_analysis::distortion_features(&r.text);
        if i == 0 {
            let names: Vec<&str> = f.iter().map(|x| x.0).collect();
            println!("row,label,type,{}", names.join(","));
        }
        let vals: Vec<String> = f.iter().map(|x| format!("{:.4}", x.1)).collect();
        println!(
            "{i},{},{},{}",
            u8::from(!map_label(&r.dominant).is_empty()),
            map_label(&r.dominant),
            vals.join(",")
        );
    }
}
