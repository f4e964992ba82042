use super::*;

#[test]
fn smoke() {
    let a = analyze("I always mess everything up.");
    assert!(!a.fragments.is_empty());
}
