//! Sentiment polarity and the emotional vector, computed in one pass over
//! the tokens (VADER-style rules over the project's own lexicon).

use crate::lexicon::{self, M_BOOST, M_CONTRAST, M_DAMP, M_NEGATOR};
use crate::text::Doc;
use crate::{Emotions, Sentiment};

const NEGATION_SCALAR: f32 = -0.74;
const CAPS_INCR: f32 = 0.733;
const NORM_ALPHA: f32 = 15.0;

fn round3(x: f32) -> f32 {
    (x * 1000.0).round() / 1000.0
}

fn normalize(score: f32) -> f32 {
    let n = score / (score * score + NORM_ALPHA).sqrt();
    n.clamp(-1.0, 1.0)
}

/// Plutchik opposite used when a positive emotion word is negated.
const OPPOSITE: [usize; 8] = [4, 5, 6, 7, 0, 1, 2, 3];

pub(crate) fn analyze(doc: &Doc) -> (Sentiment, Emotions) {
    let toks = &doc.tokens;
    let mut emo = [0f32; 8];
    let mut arousal_sum = 0f32;
    let mut arousal_w = 0f32;
    let mut pos_mass = 0f32;
    let mut neg_mass = 0f32;
    let mut n_affect = 0u32;
    let mut n_words = 0u32;
    // weighted sentence compounds
    let mut comp_sum = 0f32;
    let mut comp_w = 0f32;
    let mut excl_total = 0u32;
    let mut caps_total = 0u32;

    let mut vals: Vec<f32> = Vec::with_capacity(32);
    for s in &doc.sentences {
        vals.clear();
        let mut contrast_at: Option<usize> = None;
        let mut excl = 0u32;
        let mut quest = 0u32;
        for i in s.t0..s.t1 {
            let t = &toks[i];
            if !t.is_word {
                match doc.word(i) {
                    "!" => excl += 1,
                    "?" => quest += 1,
                    _ => {}
                }
                continue;
            }
            n_words += 1;
            let Some(e) = t.entry else { continue };
            if e.mods & M_CONTRAST != 0 && contrast_at.is_none() && i > s.t0 {
                contrast_at = Some(vals.len());
            }
            let w = doc.word(i);
            // "kind of", "sort of": dampener, not the adjective
            let next_is_of = i + 1 < s.t1 && doc.word(i + 1) == "of";
            if (w == "kind" || w == "sort") && next_is_of {
                continue;
            }
            let mut v = e.valence;
            if v == 0.0 && !e.has_emotion() {
                continue;
            }
            // a modifier directly before an affect word acts only as a modifier
            if e.mods & (M_BOOST | M_DAMP) != 0
                && i + 1 < s.t1
                && toks[i + 1]
                    .entry
                    .is_some_and(|n| n.valence != 0.0 || n.mods & (M_BOOST | M_DAMP) != 0)
            {
                continue;
            }
            if w == "like" || w == "can" || w == "no" || w == "well" || w == "pretty" || w == "miss"
            {
                // too ambiguous ("I feel like", "well, ...", "Miss Smith")
                if w != "pretty" || !(i + 1 < s.t1 && toks[i + 1].is_word) {
                    continue;
                }
            }
            // caps emphasis
            if t.caps && doc.mixed_case {
                v += CAPS_INCR * v.signum();
                caps_total += 1;
            }
            // boosters / dampeners / negation in the 3 preceding words
            let mut negated = false;
            let mut scale = 1.0f32;
            let mut k = 0;
            let mut j = i;
            while j > s.t0 && k < 3 {
                j -= 1;
                let pt = &toks[j];
                if !pt.is_word {
                    if matches!(doc.word(j), "," | ";" | ":" | "-") {
                        break;
                    }
                    continue;
                }
                k += 1;
                if let Some(pe) = pt.entry {
                    let decay = [1.0, 0.95, 0.9][k - 1];
                    if pe.mods & M_BOOST != 0 {
                        let mut b = pe.scalar * decay;
                        if pt.caps && doc.mixed_case {
                            b += CAPS_INCR * 0.3;
                        }
                        v += b * v.signum();
                        scale += b;
                    } else if pe.mods & M_DAMP != 0 {
                        // "kind of" / "sort of" only as phrases
                        let pw = doc.word(j);
                        if (pw == "kind" || pw == "sort") && doc.word(j + 1) != "of" {
                            continue;
                        }
                        v -= pe.scalar * decay * v.signum();
                        scale -= pe.scalar * decay;
                    }
                    if pe.mods & M_NEGATOR != 0 {
                        // "not only" / "no doubt" are not negations of the word
                        negated = !negated;
                    }
                }
            }
            if negated {
                v *= NEGATION_SCALAR;
            }
            vals.push(v);
            let scale = scale.clamp(0.3, 2.0);

            // emotions
            if e.has_emotion() {
                n_affect += 1;
                for (k, &x) in e.emo.iter().enumerate() {
                    if x <= 0.0 {
                        continue;
                    }
                    if negated {
                        // negated positive emotion → partly its opposite;
                        // negated negative emotion is mostly cancelled.
                        if matches!(k, lexicon::JOY | lexicon::TRUST | lexicon::ANTICIPATION) {
                            emo[OPPOSITE[k]] += 0.5 * x * scale;
                        }
                    } else {
                        emo[k] += x * scale;
                    }
                }
            }
            let a = if e.arousal >= 0.0 {
                e.arousal
            } else {
                default_arousal(&e.emo)
            };
            let wgt = v.abs().max(0.5) * scale;
            arousal_sum += a * wgt;
            arousal_w += wgt;
        }
        if vals.is_empty() {
            excl_total += excl;
            continue;
        }
        // contrast: "X but Y" → X counts half, Y one and a half
        if let Some(c) = contrast_at {
            for (idx, v) in vals.iter_mut().enumerate() {
                *v *= if idx < c { 0.5 } else { 1.5 };
            }
        }
        let mut sum: f32 = vals.iter().sum();
        for &v in &vals {
            if v > 0.0 {
                pos_mass += v;
            } else {
                neg_mass -= v;
            }
        }
        let ep = (excl.min(4) as f32) * 0.292;
        let qp = if quest > 1 {
            (quest.min(3) as f32) * 0.18
        } else {
            0.0
        };
        if sum > 0.0 {
            sum += ep + qp;
        } else if sum < 0.0 {
            sum -= ep + qp;
        }
        excl_total += excl;
        let c = normalize(sum);
        let w = 0.5 + c.abs();
        comp_sum += c * w;
        comp_w += w;
    }

    let polarity = if comp_w > 0.0 {
        // sharpen a little: a weighted mean of sentence scores is shrunk
        // towards 0 by neutral sentences.
        (comp_sum / comp_w * 1.15).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let evidence = pos_mass + neg_mass;
    let agreement = if evidence > 0.0 {
        (pos_mass - neg_mass).abs() / evidence
    } else {
        0.0
    };
    let confidence = if evidence > 0.0 {
        let coverage = 1.0 - (-evidence / 4.0).exp();
        (0.25 + 0.75 * coverage * (0.4 + 0.6 * agreement)).clamp(0.0, 1.0)
    } else if n_words > 0 {
        0.5 // confidently neutral-ish
    } else {
        0.0
    };

    // Emotions: saturating intensity, normalised for length.
    let len_norm = ((n_words as f32) / 15.0).max(1.0).sqrt();
    let mut out = [0f32; 8];
    for k in 0..8 {
        out[k] = round3(1.0 - (-0.9 * emo[k] / len_norm).exp());
    }
    let emo_bal = (out[0] + out[1] * 0.6) - (out[2] + out[4] + out[5] + out[6]) * 0.5;
    let valence = if n_affect == 0 && comp_w == 0.0 {
        0.0
    } else {
        (0.75 * polarity + 0.25 * emo_bal.clamp(-1.0, 1.0)).clamp(-1.0, 1.0)
    };
    let base = 0.3;
    let mut arousal = if arousal_w > 0.0 {
        let m = arousal_sum / arousal_w;
        let ev = 1.0 - (-arousal_w / 3.0).exp();
        base + (m - base) * ev
    } else {
        0.2
    };
    arousal += (excl_total.min(5) as f32) * 0.04 + (caps_total.min(4) as f32) * 0.05;
    let arousal = arousal.clamp(0.0, 1.0);

    (
        Sentiment {
            polarity: round3(polarity),
            confidence: round3(confidence),
        },
        Emotions {
            valence: round3(valence),
            arousal: round3(arousal),
            joy: out[0],
            trust: out[1],
            fear: out[2],
            surprise: out[3],
            sadness: out[4],
            disgust: out[5],
            anger: out[6],
            anticipation: out[7],
        },
    )
}

fn default_arousal(e: &[f32; 8]) -> f32 {
    const A: [f32; 8] = [0.6, 0.35, 0.75, 0.8, 0.3, 0.55, 0.85, 0.55];
    let mut s = 0.0;
    let mut w = 0.0;
    for k in 0..8 {
        s += A[k] * e[k];
        w += e[k];
    }
    if w > 0.0 {
        s / w
    } else {
        0.3
    }
}
