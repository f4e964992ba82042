//! Word gates: necessary conditions for a pattern to match, derived from the
//! pattern itself.
//!
//! A rule's regular expression is only worth running on a sentence that
//! contains the words the expression cannot match without. [`required_words`]
//! reads a pattern (the subset of regex syntax the rule tables use) and
//! returns a conjunction of disjunctions: "one of {will, would, is} and one of
//! {never, not}". A word counts only where the pattern pins both of its ends
//! to a non-word character (space, punctuation, `\b`, `$`), so it is always a
//! whole run of ASCII letters and digits in the text, which is exactly what
//! [`for_each_word`] enumerates. Anything the reader does not understand adds
//! no condition, so a gate can be weaker than ideal but never wrong.

use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasherDefault;

use crate::lexicon::FxHasher;

#[derive(Debug)]
enum Atom {
    /// One literal byte.
    Char(u8),
    /// `\b`, `^`, `$`.
    Boundary,
    /// Character classes, `.`, `\d` and the like.
    Other,
    /// Alternatives of a group.
    Group(Vec<Vec<Item>>),
}

#[derive(Debug)]
struct Item {
    atom: Atom,
    /// Exactly one occurrence (no quantifier).
    once: bool,
    /// Minimum number of occurrences.
    min: u32,
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn alternation(&mut self) -> Vec<Vec<Item>> {
        let mut alts = vec![self.sequence()];
        while self.i < self.b.len() && self.b[self.i] == b'|' {
            self.i += 1;
            alts.push(self.sequence());
        }
        alts
    }

    fn sequence(&mut self) -> Vec<Item> {
        let mut seq = Vec::new();
        while self.i < self.b.len() {
            let c = self.b[self.i];
            let atom = match c {
                b'|' | b')' => break,
                b'(' => {
                    self.i += 1;
                    if self.b[self.i..].starts_with(b"?:") {
                        self.i += 2;
                    } else if self.b[self.i] == b'?' {
                        // flags group like (?-u:...): skip to ':'
                        while self.b[self.i] != b':' {
                            self.i += 1;
                        }
                        self.i += 1;
                    }
                    let alts = self.alternation();
                    self.i += 1; // ')'
                    Atom::Group(alts)
                }
                b'[' => {
                    self.i += 1;
                    if self.b[self.i] == b'^' {
                        self.i += 1;
                    }
                    if self.b[self.i] == b']' {
                        self.i += 1;
                    }
                    while self.b[self.i] != b']' {
                        if self.b[self.i] == b'\\' {
                            self.i += 1;
                        }
                        self.i += 1;
                    }
                    self.i += 1;
                    Atom::Other
                }
                b'\\' => {
                    let e = self.b[self.i + 1];
                    self.i += 2;
                    match e {
                        b'b' => Atom::Boundary,
                        _ if e.is_ascii_alphanumeric() => Atom::Other,
                        _ => Atom::Char(e),
                    }
                }
                b'^' | b'$' => {
                    self.i += 1;
                    Atom::Boundary
                }
                b'.' => {
                    self.i += 1;
                    Atom::Other
                }
                _ => {
                    self.i += 1;
                    Atom::Char(c)
                }
            };
            let (once, min) = self.quantifier();
            seq.push(Item { atom, once, min });
        }
        seq
    }

    fn quantifier(&mut self) -> (bool, u32) {
        let Some(&c) = self.b.get(self.i) else {
            return (true, 1);
        };
        let r = match c {
            b'?' | b'*' => (false, 0),
            b'+' => (false, 1),
            b'{' => {
                let end = self.i + self.b[self.i..].iter().position(|&x| x == b'}').unwrap();
                let body = std::str::from_utf8(&self.b[self.i + 1..end]).unwrap();
                let min: u32 = body.split(',').next().unwrap().trim().parse().unwrap_or(0);
                self.i = end;
                (false, min)
            }
            _ => return (true, 1),
        };
        self.i += 1;
        if self.b.get(self.i) == Some(&b'?') {
            self.i += 1; // lazy
        }
        r
    }
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

type Req = BTreeSet<String>;

/// Whether every alternative ends with a literal non-word character.
fn ends_nonword(alts: &[Vec<Item>]) -> bool {
    alts.iter().all(|s| {
        s.last().is_some_and(|it| match &it.atom {
            Atom::Char(c) => it.min >= 1 && !is_word(*c),
            Atom::Group(a) => it.min >= 1 && ends_nonword(a),
            _ => false,
        })
    })
}

/// Whether the item after position `k` of `seq` pins a word boundary
/// (`after` is the answer for the end of the sequence).
fn boundary_next(seq: &[Item], k: usize, after: bool) -> bool {
    match seq.get(k + 1) {
        None => after,
        Some(it) => match &it.atom {
            Atom::Boundary => true,
            Atom::Char(c) => it.min >= 1 && !is_word(*c),
            Atom::Group(a) => it.min >= 1 && starts_nonword(a),
            Atom::Other => false,
        },
    }
}

fn starts_nonword(alts: &[Vec<Item>]) -> bool {
    alts.iter().all(|s| {
        s.first().is_some_and(|it| match &it.atom {
            Atom::Char(c) => it.min >= 1 && !is_word(*c),
            Atom::Boundary => true,
            Atom::Group(a) => it.min >= 1 && starts_nonword(a),
            Atom::Other => false,
        })
    })
}

fn seq_reqs(seq: &[Item], before: bool, after: bool, out: &mut Vec<Req>) {
    let mut word = String::new();
    let mut word_ok = false;
    let mut prev_bnd = before;
    for (k, it) in seq.iter().enumerate() {
        match &it.atom {
            Atom::Char(c) if it.once && is_word(*c) => {
                if word.is_empty() {
                    word_ok = prev_bnd;
                }
                word.push(*c as char);
                if boundary_next(seq, k, after) && word_ok {
                    out.push(std::iter::once(word.clone()).collect());
                }
                prev_bnd = false;
            }
            Atom::Char(c) if it.min >= 1 && !is_word(*c) => {
                word.clear();
                prev_bnd = true;
            }
            Atom::Boundary => {
                word.clear();
                prev_bnd = true;
            }
            Atom::Group(alts) if it.min >= 1 => {
                let inner_before = word.is_empty() && prev_bnd;
                let inner_after = boundary_next(seq, k, after);
                word.clear();
                let mut per_alt: Vec<Vec<Req>> = Vec::with_capacity(alts.len());
                for a in alts {
                    let mut r = Vec::new();
                    seq_reqs(a, inner_before, inner_after, &mut r);
                    per_alt.push(r);
                }
                if per_alt.len() == 1 {
                    out.append(&mut per_alt[0]);
                } else if per_alt.iter().all(|r| !r.is_empty()) {
                    let mut u = Req::new();
                    for r in &per_alt {
                        // the alternative's smallest condition
                        let best = r.iter().min_by_key(|s| s.len()).unwrap();
                        u.extend(best.iter().cloned());
                    }
                    out.push(u);
                }
                prev_bnd = ends_nonword(alts);
            }
            Atom::Group(alts) => {
                // optional: the position after it is a boundary either way
                // only if both skipping and taking it leave one
                word.clear();
                prev_bnd = prev_bnd && ends_nonword(alts);
            }
            _ => {
                word.clear();
                prev_bnd = false;
            }
        }
    }
}

/// Words one of which every match starts with (as a whole ASCII word), when
/// the pattern pins that down; `None` when a match may start elsewhere.
pub(crate) fn first_words(pattern: &str) -> Option<Vec<String>> {
    let mut p = Parser {
        b: pattern.as_bytes(),
        i: 0,
    };
    let alts = p.alternation();
    let mut out = BTreeSet::new();
    alts_first(&alts, false, false, &mut out)?;
    Some(out.into_iter().collect())
}

/// First word of every alternative; `before` tells whether a boundary
/// precedes the group.
fn alts_first(
    alts: &[Vec<Item>],
    before: bool,
    after: bool,
    out: &mut BTreeSet<String>,
) -> Option<()> {
    for seq in alts {
        let mut bnd = before;
        let mut k = 0;
        while k < seq.len() && matches!(seq[k].atom, Atom::Boundary) {
            bnd = true;
            k += 1;
        }
        let it = seq.get(k)?;
        match &it.atom {
            Atom::Group(a) if it.once => alts_first(a, bnd, boundary_next(seq, k, after), out)?,
            Atom::Char(c) if it.once && is_word(*c) && bnd => {
                let mut w = String::new();
                let mut j = k;
                while j < seq.len() {
                    match seq[j].atom {
                        Atom::Char(c) if seq[j].once && is_word(c) => w.push(c as char),
                        _ => break,
                    }
                    j += 1;
                }
                if !boundary_next(seq, j - 1, after) {
                    return None;
                }
                out.insert(w);
            }
            _ => return None,
        }
    }
    Some(())
}

/// Required words of a (macro-expanded) pattern: every match contains, for
/// each returned set, at least one of its words as a whole ASCII word.
pub(crate) fn required_words(pattern: &str) -> Vec<Vec<String>> {
    let mut p = Parser {
        b: pattern.as_bytes(),
        i: 0,
    };
    let alts = p.alternation();
    assert_eq!(p.i, pattern.len(), "unbalanced pattern {pattern}");
    let mut out = Vec::new();
    let top = vec![Item {
        atom: Atom::Group(alts),
        once: true,
        min: 1,
    }];
    seq_reqs(&top, false, false, &mut out);
    let mut v: Vec<Vec<String>> = out.into_iter().map(|s| s.into_iter().collect()).collect();
    v.sort();
    v.dedup();
    v
}

/// Calls `f` with every maximal run of ASCII letters and digits in `s`
/// (the unit a word gate talks about).
#[inline]
pub(crate) fn for_each_word(s: &str, mut f: impl FnMut(&str)) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if is_word(b[i]) {
            let st = i;
            while i < b.len() && is_word(b[i]) {
                i += 1;
            }
            f(&s[st..i]);
        } else {
            i += 1;
        }
    }
}

/// Rules whose matches must start at one of a few words: they are searched
/// with an anchored expression tried only at those words, instead of an
/// unanchored scan of the whole sentence.
pub(crate) struct Starts {
    pub(crate) words: HashMap<Box<str>, [u64; 4], BuildHasherDefault<FxHasher>>,
    anchored: Vec<Option<regex::Regex>>,
}

/// Start words found in a sentence (in order): byte offset in the sentence
/// and the rules whose matches can start there.
pub(crate) type StartList = Vec<(usize, [u64; 4])>;

impl Starts {
    pub(crate) fn new<'a>(patterns: impl Iterator<Item = &'a str>) -> Starts {
        let mut words: HashMap<Box<str>, [u64; 4], BuildHasherDefault<FxHasher>> =
            HashMap::default();
        let mut anchored = Vec::new();
        for (r, p) in patterns.enumerate() {
            assert!(r < 256);
            match first_words(&crate::patterns::expand_macros(p)) {
                Some(ws) => {
                    for w in ws {
                        words.entry(w.into_boxed_str()).or_default()[r / 64] |= 1u64 << (r % 64);
                    }
                    anchored.push(Some(crate::patterns::compile(&format!("^(?:{p})"))));
                }
                None => anchored.push(None),
            }
        }
        Starts { words, anchored }
    }

    /// Calls `f(start, end)` for every match of rule `r` in `slice`, exactly
    /// as `re.find_iter(slice)` would report them.
    #[inline]
    pub(crate) fn find_each(
        &self,
        r: usize,
        re: &regex::Regex,
        slice: &str,
        starts: &StartList,
        mut f: impl FnMut(usize, usize),
    ) {
        match &self.anchored[r] {
            Some(a) => {
                let mut from = 0;
                for &(pos, m) in starts {
                    if pos < from || m[r / 64] & (1u64 << (r % 64)) == 0 {
                        continue;
                    }
                    if let Some(x) = a.find(&slice[pos..]) {
                        if x.end() > 0 {
                            f(pos, pos + x.end());
                            from = pos + x.end();
                        }
                    }
                }
            }
            None => {
                for x in re.find_iter(slice) {
                    f(x.start(), x.end());
                }
            }
        }
    }
}

/// Gates of a rule table, compiled for per-sentence checks.
pub(crate) struct Gates {
    /// word → ids of the condition sets it belongs to
    pub(crate) words: HashMap<Box<str>, Vec<u16>, BuildHasherDefault<FxHasher>>,
    /// per rule: ids of the condition sets that must all be present
    rules: Vec<Vec<u16>>,
}

/// Condition sets present in one sentence (bit per set id).
pub(crate) type Present = [u64; MAX_SETS / 64];
pub(crate) const MAX_SETS: usize = 2048;

impl Gates {
    pub(crate) fn new<'a>(patterns: impl Iterator<Item = &'a str>) -> Gates {
        let mut ids: HashMap<Vec<String>, u16> = HashMap::new();
        let mut words: HashMap<Box<str>, Vec<u16>, BuildHasherDefault<FxHasher>> =
            HashMap::default();
        let mut rules = Vec::new();
        for p in patterns {
            let mut mine = Vec::new();
            for set in required_words(&crate::patterns::expand_macros(p)) {
                let n = ids.len() as u16;
                let id = *ids.entry(set.clone()).or_insert(n);
                if id == n {
                    for w in set {
                        words.entry(w.into_boxed_str()).or_default().push(id);
                    }
                }
                mine.push(id);
            }
            rules.push(mine);
        }
        assert!(ids.len() <= MAX_SETS, "too many gate sets");
        Gates { words, rules }
    }

    /// Marks a list of condition sets.
    #[inline]
    pub(crate) fn mark_ids(ids: &[u16], present: &mut Present) {
        for &id in ids {
            present[id as usize / 64] |= 1u64 << (id % 64);
        }
    }

    /// Marks the condition sets a word satisfies.
    #[inline]
    pub(crate) fn mark(&self, word: &str, present: &mut Present) {
        if let Some(v) = self.words.get(word) {
            for &id in v {
                present[id as usize / 64] |= 1u64 << (id % 64);
            }
        }
    }

    /// Marks the condition sets satisfied by a normalised token (every run
    /// of ASCII letters and digits in it).
    #[inline]
    pub(crate) fn mark_token(&self, tok: &str, present: &mut Present) {
        if tok.bytes().all(is_word) {
            self.mark(tok, present);
        } else {
            for_each_word(tok, |w| self.mark(w, present));
        }
    }

    #[inline]
    pub(crate) fn open(&self, rule: usize, present: &Present) -> bool {
        self.rules[rule]
            .iter()
            .all(|&id| present[id as usize / 64] & (1u64 << (id % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(p: &str) -> Vec<Vec<String>> {
        required_words(p)
    }

    #[test]
    fn sequences_and_groups() {
        let r = req(r"\bi (?:will|would) (?:really )*never (?:be|get)\b");
        assert!(r.contains(&vec!["i".to_string()]));
        assert!(r.contains(&vec!["will".to_string(), "would".to_string()]));
        assert!(r.contains(&vec!["never".to_string()]));
        assert!(r.contains(&vec!["be".to_string(), "get".to_string()]));
        // not a whole word: "hates?" and "self-harm(?:ing)?"
        let r = req(r"\bhates? (?:me|us)\b");
        assert_eq!(r, vec![vec!["me".to_string(), "us".to_string()]]);
        let r = req(r"\bself-harm(?:ing)?\b");
        assert_eq!(r, vec![vec!["self".to_string()]]);
        // optional group keeps the boundary when it ends in a space
        let r = req(r"\bnot (?:[a-z']+ ){1,4}(?:at all|whatsoever)\b");
        assert!(r.contains(&vec!["at".to_string(), "whatsoever".to_string()]));
        // top-level alternation
        let r = req(r"\bfoo bar\b|\bbaz\b");
        assert_eq!(r, vec![vec!["baz".to_string(), "foo".to_string()]]);
        assert_eq!(
            first_words(r"\b(?:he|she|my (?:mom|dad)) (?:is|are)\b").unwrap(),
            vec!["he", "my", "she"]
        );
        assert!(first_words(r"\b(?:the )?worst\b").is_none());
        assert!(first_words(r"\bhates? me").is_none());
        // an alternative without a condition drops the group's condition
        let r = req(r"\b(?:foo|[a-z]+) bar\b");
        assert_eq!(r, vec![vec!["bar".to_string()]]);
    }
}
