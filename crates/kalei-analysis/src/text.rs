//! Tokenisation and normalisation shared by every stage.
//!
//! The input is turned once into a list of tokens and a *normalised* string:
//! lower-case, typographic quotes folded, common contractions and chat
//! spellings expanded ("can't" → "can not", "im" → "i am", "gonna" →
//! "going to"), tokens separated by single spaces. All pattern matching runs
//! on the normalised string; every token remembers the range of characters
//! (Unicode scalar values) it came from, so a match maps back to exact
//! offsets in the original text.

use crate::lexicon::{self, Entry};

#[derive(Clone, Copy, Debug)]
pub(crate) struct Token {
    /// Byte range in the normalised string.
    pub ns: u32,
    pub ne: u32,
    /// Character range in the original text.
    pub cs: u32,
    pub ce: u32,
    /// Byte range in the original text.
    pub bs: u32,
    pub be: u32,
    pub is_word: bool,
    /// All letters upper-case, at least two letters (emphasis).
    pub caps: bool,
    /// A line break precedes this token.
    pub newline_before: bool,
    /// Lexicon entry (looked up lazily by `Doc::lookup_all`).
    pub entry: Option<&'static Entry>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Sentence {
    pub t0: usize,
    pub t1: usize,
}

pub(crate) struct Doc<'a> {
    pub original: &'a str,
    pub norm: String,
    pub tokens: Vec<Token>,
    pub sentences: Vec<Sentence>,
    /// True when the text contains lower-case letters (so ALL-CAPS words are emphasis).
    pub mixed_case: bool,
}

/// Contraction / chat-spelling expansions applied to whole (lower-cased) words.
fn expansion(w: &str) -> Option<&'static [&'static str]> {
    Some(match w {
        "im" | "i'm" => &["i", "am"],
        "ive" | "i've" => &["i", "have"],
        "i'll" => &["i", "will"],
        "i'd" => &["i", "would"],
        "cant" | "can't" | "cannot" => &["can", "not"],
        "wont" | "won't" => &["will", "not"],
        "dont" | "don't" => &["do", "not"],
        "doesnt" | "doesn't" => &["does", "not"],
        "didnt" | "didn't" => &["did", "not"],
        "isnt" | "isn't" => &["is", "not"],
        "arent" | "aren't" => &["are", "not"],
        "wasnt" | "wasn't" => &["was", "not"],
        "werent" | "weren't" => &["were", "not"],
        "havent" | "haven't" => &["have", "not"],
        "hasnt" | "hasn't" => &["has", "not"],
        "hadnt" | "hadn't" => &["had", "not"],
        "shouldnt" | "shouldn't" => &["should", "not"],
        "wouldnt" | "wouldn't" => &["would", "not"],
        "couldnt" | "couldn't" => &["could", "not"],
        "mustnt" | "mustn't" => &["must", "not"],
        "aint" | "ain't" => &["am", "not"],
        "youre" | "you're" => &["you", "are"],
        "theyre" | "they're" => &["they", "are"],
        "we're" => &["we", "are"],
        "he's" => &["he", "is"],
        "she's" => &["she", "is"],
        "it's" => &["it", "is"],
        "that's" | "thats" => &["that", "is"],
        "there's" => &["there", "is"],
        "what's" | "whats" => &["what", "is"],
        "gonna" => &["going", "to"],
        "wanna" => &["want", "to"],
        "gotta" => &["got", "to"],
        "u" => &["you"],
        "ur" => &["your"],
        "ppl" => &["people"],
        "bc" | "cuz" | "cos" | "coz" => &["because"],
        "idk" => &["i", "do", "not", "know"],
        "tbh" => &["to", "be", "honest"],
        "rn" => &["right", "now"],
        "ima" | "imma" => &["i", "am", "going", "to"],
        "nobody" => &["nobody"],
        "noone" => &["no", "one"],
        "kinda" => &["kind", "of"],
        "sorta" => &["sort", "of"],
        _ => return None,
    })
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{2018}' | '`' | '\u{00B4}')
}

fn fold_punct(c: char) -> char {
    match c {
        '\u{201C}' | '\u{201D}' | '\u{201E}' => '"',
        '\u{2013}' | '\u{2014}' | '\u{2212}' => '-',
        '\u{2026}' => '.',
        c if is_apostrophe(c) => '\'',
        c => c,
    }
}

impl<'a> Doc<'a> {
    pub fn new(text: &'a str) -> Doc<'a> {
        let mut norm = String::with_capacity(text.len() + text.len() / 8 + 8);
        let mut tokens: Vec<Token> = Vec::with_capacity(text.len() / 4 + 4);
        let mut has_lower = false;
        let mut word = String::with_capacity(32);

        let mut ci: u32 = 0; // char index
        let mut newline = false;
        let mut it = text.char_indices().peekable();
        while let Some((bi, c)) = it.next() {
            if c.is_alphanumeric() {
                // A word: alphanumerics with internal apostrophes / hyphens.
                let (ws, wbs) = (ci, bi as u32);
                let mut we = ci + 1;
                let mut wbe = (bi + c.len_utf8()) as u32;
                let mut caps = c.is_uppercase();
                let mut letters = u32::from(c.is_alphabetic());
                has_lower |= c.is_lowercase();
                word.clear();
                push_lower(&mut word, c);
                while let Some(&(nb, nc)) = it.peek() {
                    if nc.is_alphanumeric() {
                        it.next();
                        caps &= !nc.is_alphabetic() || nc.is_uppercase();
                        letters += u32::from(nc.is_alphabetic());
                        has_lower |= nc.is_lowercase();
                        push_lower(&mut word, nc);
                        we += 1;
                        wbe = (nb + nc.len_utf8()) as u32;
                    } else if is_apostrophe(nc) || nc == '-' {
                        // keep only when followed by an alphanumeric char
                        let mut look = it.clone();
                        look.next();
                        match look.peek() {
                            Some(&(_, c2)) if c2.is_alphanumeric() => {
                                it.next();
                                word.push(if nc == '-' { '-' } else { '\'' });
                                we += 1;
                                wbe = (nb + nc.len_utf8()) as u32;
                            }
                            _ => break,
                        }
                    } else {
                        break;
                    }
                }
                let caps = caps && letters >= 2;
                let parts: &[&str] = match expansion(&word) {
                    Some(p) => p,
                    None => &[],
                };
                if parts.is_empty() {
                    // generic clitics: "he'll" → "he will", "they've" → "they have",
                    // "shan't" → "sha not"
                    let split = ["n't", "'ll", "'ve", "'re", "'d"]
                        .iter()
                        .find(|suf| word.len() > suf.len() + 1 && word.ends_with(*suf));
                    match split {
                        Some(&suf) => {
                            let stem = &word[..word.len() - suf.len()];
                            let tail = match suf {
                                "n't" => "not",
                                "'ll" => "will",
                                "'ve" => "have",
                                "'re" => "are",
                                _ => "would",
                            };
                            let stem = stem.to_string();
                            push_tok(
                                &mut norm,
                                &mut tokens,
                                &stem,
                                (ws, we, wbs, wbe),
                                true,
                                caps,
                                newline,
                            );
                            push_tok(
                                &mut norm,
                                &mut tokens,
                                tail,
                                (ws, we, wbs, wbe),
                                true,
                                caps,
                                newline,
                            );
                        }
                        None => push_tok(
                            &mut norm,
                            &mut tokens,
                            &word,
                            (ws, we, wbs, wbe),
                            true,
                            caps,
                            newline,
                        ),
                    }
                } else {
                    for p in parts {
                        push_tok(
                            &mut norm,
                            &mut tokens,
                            p,
                            (ws, we, wbs, wbe),
                            true,
                            caps,
                            newline,
                        );
                    }
                }
                newline = false;
                ci = we;
                continue;
            }
            if c.is_whitespace() {
                if c == '\n' || c == '\r' || c == '\u{2029}' {
                    newline = true;
                }
                ci += 1;
                continue;
            }
            // punctuation / symbol / emoji: one token per char
            let f = fold_punct(c);
            let mut buf = [0u8; 4];
            let s = f.encode_utf8(&mut buf);
            let bs = bi as u32;
            push_tok(
                &mut norm,
                &mut tokens,
                s,
                (ci, ci + 1, bs, bs + c.len_utf8() as u32),
                false,
                false,
                newline,
            );
            newline = false;
            ci += 1;
        }

        let sentences = split_sentences(&norm, &tokens);
        Doc {
            original: text,
            norm,
            tokens,
            sentences,
            mixed_case: has_lower,
        }
    }

    /// Looks every word token up in the lexicon (once).
    pub fn lookup_all(&mut self) {
        for t in self.tokens.iter_mut() {
            if t.is_word {
                t.entry = lexicon::lookup(&self.norm[t.ns as usize..t.ne as usize]);
            }
        }
    }

    #[inline]
    pub fn word(&self, i: usize) -> &str {
        let t = &self.tokens[i];
        &self.norm[t.ns as usize..t.ne as usize]
    }

    /// Normalised byte range of a sentence.
    #[inline]
    pub fn sentence_range(&self, s: &Sentence) -> (usize, usize) {
        (
            self.tokens[s.t0].ns as usize,
            self.tokens[s.t1 - 1].ne as usize,
        )
    }

    /// Index of the token containing (or starting after) normalised byte `b`.
    pub fn token_at(&self, b: usize) -> usize {
        let b = b as u32;
        match self.tokens.binary_search_by(|t| {
            if t.ne <= b {
                std::cmp::Ordering::Less
            } else if t.ns > b {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        }) {
            Ok(i) => i,
            Err(i) => i.min(self.tokens.len().saturating_sub(1)),
        }
    }

    /// Token range `[t0, t1)` covered by a normalised byte range.
    pub fn tokens_of(&self, a: usize, b: usize) -> (usize, usize) {
        let t0 = self.token_at(a);
        let t1 = self.token_at(b.saturating_sub(1).max(a)) + 1;
        (t0, t1.max(t0 + 1))
    }

    /// Exact slice of the original text for a token range.
    pub fn orig_slice(&self, t0: usize, t1: usize) -> &'a str {
        &self.original[self.tokens[t0].bs as usize..self.tokens[t1 - 1].be as usize]
    }
}

#[inline]
fn push_lower(out: &mut String, c: char) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
    } else {
        for l in c.to_lowercase() {
            out.push(l);
        }
    }
}

#[inline]
fn push_tok(
    norm: &mut String,
    tokens: &mut Vec<Token>,
    s: &str,
    (cs, ce, bs, be): (u32, u32, u32, u32),
    is_word: bool,
    caps: bool,
    newline_before: bool,
) {
    if !norm.is_empty() {
        norm.push(' ');
    }
    let ns = norm.len() as u32;
    norm.push_str(s);
    tokens.push(Token {
        ns,
        ne: norm.len() as u32,
        cs,
        ce,
        bs,
        be,
        is_word,
        caps,
        newline_before,
        entry: None,
    });
}

fn split_sentences(norm: &str, tokens: &[Token]) -> Vec<Sentence> {
    let mut out = Vec::with_capacity(tokens.len() / 12 + 1);
    let mut start = 0usize;
    let n = tokens.len();
    let mut i = 0;
    while i < n {
        let t = &tokens[i];
        if i > start && t.newline_before {
            out.push(Sentence { t0: start, t1: i });
            start = i;
        }
        if !t.is_word {
            let s = &norm[t.ns as usize..t.ne as usize];
            if matches!(s, "." | "!" | "?" | ";") {
                // absorb following terminal punctuation / closing quotes
                let mut j = i + 1;
                while j < n && !tokens[j].is_word && !tokens[j].newline_before {
                    let s2 = &norm[tokens[j].ns as usize..tokens[j].ne as usize];
                    if matches!(s2, "." | "!" | "?" | "\"" | "'" | ")")
                        || s2.chars().all(|c| !c.is_ascii())
                    {
                        j += 1;
                    } else {
                        break;
                    }
                }
                // "e.g." / decimal numbers: don't split when the next token is lower-case-led digit
                out.push(Sentence { t0: start, t1: j });
                start = j;
                i = j;
                continue;
            }
        }
        i += 1;
    }
    if start < n {
        out.push(Sentence { t0: start, t1: n });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_and_maps_back() {
        let d = Doc::new("I can’t — ÉTÉ 😊 I'm fine.");
        assert!(
            d.norm.starts_with("i can not - été 😊 i am fine ."),
            "{}",
            d.norm
        );
        let (a, b) = (d.norm.find("not").unwrap(), d.norm.find("not").unwrap() + 3);
        let (t0, t1) = d.tokens_of(a, b);
        assert_eq!(d.orig_slice(t0, t1), "can’t");
        assert_eq!(d.sentences.len(), 1);
        assert!(d.tokens.iter().any(|t| t.caps));
    }

    #[test]
    fn sentences_split() {
        let d = Doc::new("One. Two!! Three?\nFour");
        assert_eq!(d.sentences.len(), 4);
    }
}
