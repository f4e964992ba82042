//! Prompt registry: one minijinja template pair (system, user) per feature,
//! versioned by the Blake3 hash of its text and output schema. Every
//! revision is recorded in `prompt_revisions` with the time it first became
//! active; every usage event stores the version it used.

use minijinja::Environment;
use serde_json::Value;

use crate::types::Feature;

const COMMON_RULES: &str = "You write for Kalei, a reflective-writing app. The reader may be vulnerable. \
Be warm, concrete and brief. Never diagnose, never mention medication, doses or treatments, never give \
medical advice, never suggest alcohol or drugs, never include phone numbers or links. Never blame the \
person. Do not minimise feelings (no \"just relax\", \"it's only in your head\") and avoid forced \
positivity (no \"everything happens for a reason\", \"look on the bright side\"). Answer with one JSON \
object matching the given schema and nothing else.";

struct Template {
    feature: Feature,
    system: &'static str,
    user: &'static str,
}

const TEMPLATES: &[Template] = &[
    Template {
        feature: Feature::Turn,
        system: "{{ rules }}\n\nTask: the person wrote one negative thought. Offer exactly 3 reframes, each in a \
different style from: evidence_check, compassionate_friend, balanced_alternative, decatastrophising, \
perspective, curiosity, responsibility, flexibility. Each reframe is 1-2 sentences (20-400 characters), \
speaks to the person as \"you\", and keeps their feeling valid. Then suggest 1 small micro-action they \
can do in 1-30 minutes (text 10-300 characters, minutes as an integer).",
        user: "Thought: \"{{ thought }}\"\n\
{% if distortions %}Patterns the app noticed: {% for d in distortions %}{{ d.label }} ({{ d.explanation }}){% if not loop.last %}; {% endif %}{% endfor %}\n{% endif %}\
{% if feelings %}Strongest feelings: {{ feelings | join(\", \") }}\n{% endif %}\
Reply with JSON: {\"reframes\": [{\"style\": …, \"text\": …} ×3], \"micro_action\": {\"text\": …, \"minutes\": …}}",
    },
    Template {
        feature: Feature::MirrorReframe,
        system: "{{ rules }}\n\nTask: in a journal entry the app highlighted one phrase that shows a thinking \
pattern. Offer exactly 3 gentle reframes of that phrase, each in a different style from: evidence_check, \
compassionate_friend, balanced_alternative, decatastrophising, perspective, curiosity, responsibility, \
flexibility. Each is 1-2 sentences (20-400 characters).",
        user: "Phrase: \"{{ fragment }}\"\nPattern: {{ label }} ({{ explanation }})\n\
{% if feelings %}Strongest feelings in the entry: {{ feelings | join(\", \") }}\n{% endif %}\
Reply with JSON: {\"reframes\": [{\"style\": …, \"text\": …} ×3]}",
    },
    Template {
        feature: Feature::MirrorFragments,
        system: "You analyse journal text for cognitive distortions. Only report clear instances. \
For each, quote the exact words from the text (copy them character for character), name the type \
from: {{ types | join(\", \") }}, explain in one plain sentence (5-400 characters) without judging, \
and give a confidence from 0 to 1. Answer with one JSON object matching the schema and nothing else.",
        user: "Text:\n\"\"\"\n{{ text }}\n\"\"\"\nReply with JSON: {\"fragments\": [{\"type\": …, \"quote\": …, \"explanation\": …, \"confidence\": …}]}",
    },
    Template {
        feature: Feature::MirrorReflection,
        system: "{{ rules }}\n\nTask: the person just closed a free-writing session. From the aggregate \
figures only, write a short reflection (2-4 sentences, under 600 characters) that thanks them, names \
what stood out in neutral words, and offers one gentle thought to carry forward.",
        user: "Messages written: {{ message_count }}\n\
{% if patterns %}Patterns noticed: {% for p in patterns %}{{ p.label }} ×{{ p.count }}{% if not loop.last %}, {% endif %}{% endfor %}\n{% endif %}\
{% if feelings %}Strongest feelings: {{ feelings | join(\", \") }}\n{% endif %}\
Overall tone: {{ tone }}\nReply with JSON: {\"text\": …}",
    },
    Template {
        feature: Feature::Lens,
        system: "{{ rules }}\n\nTask: write one short first-person daily affirmation or focus (one \
sentence, under 160 characters), believable rather than grandiose.",
        user: "{% if feelings %}Recent strongest feelings: {{ feelings | join(\", \") }}. Overall tone: {{ tone }}.\n{% else %}No recent entries.\n{% endif %}\
Reply with JSON: {\"text\": …}",
    },
    Template {
        feature: Feature::SpectrumWeekly,
        system: "{{ rules }}\n\nTask: write the weekly insight of an emotional-analytics view from \
aggregate figures only (there is no access to what the person wrote; never invent quotes). 3-5 \
sentences, under 900 characters: what the week looked like, one change compared with last week if \
given, one pattern, and one gentle suggestion. Speak to the person as \"you\".",
        user: "{% include 'period' %}",
    },
    Template {
        feature: Feature::SpectrumMonthly,
        system: "{{ rules }}\n\nTask: write the monthly narrative of an emotional-analytics view from \
aggregate figures only (there is no access to what the person wrote; never invent quotes). 5-8 \
sentences, under 1500 characters: the arc of the month, changes compared with last month if given, \
recurring patterns, and what seems to help. Speak to the person as \"you\".",
        user: "{% include 'period' %}",
    },
];

const PERIOD: &str = "Period: {{ period }}\nSessions: {{ sessions }}, turns: {{ turns }}\n\
Mean valence (-1..1): {{ valence }}, arousal (0..1): {{ arousal }}\n\
{% if feelings %}Strongest feelings: {{ feelings | join(\", \") }}\n{% endif %}\
{% if previous_valence is not none %}Previous {{ period }} mean valence: {{ previous_valence }}\n{% endif %}\
{% if patterns %}Patterns: {% for p in patterns %}{{ p.label }} ×{{ p.count }}{% if not loop.last %}, {% endif %}{% endfor %}\n{% endif %}\
{% if turn_impact is not none %}Mean belief change after reframing (points, negative = eased): {{ turn_impact }}\n{% endif %}\
Reply with JSON: {\"text\": …}";

/// A registered prompt: name, content-hash version and full text.
#[derive(Debug, Clone)]
pub struct PromptRevision {
    pub name: &'static str,
    pub version: String,
    /// System and user templates and the output schema, as registered.
    pub text: String,
}

pub(crate) struct Prompts {
    env: Environment<'static>,
    revisions: Vec<(Feature, PromptRevision)>,
}

impl Prompts {
    pub fn compile() -> Result<Self, String> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.add_template("period", PERIOD)
            .map_err(|e| e.to_string())?;
        let mut revisions = Vec::new();
        for t in TEMPLATES {
            let name = t.feature.as_str();
            env.add_template_owned(format!("{name}.system"), t.system.to_string())
                .map_err(|e| format!("{name}.system: {e}"))?;
            env.add_template_owned(format!("{name}.user"), t.user.to_string())
                .map_err(|e| format!("{name}.user: {e}"))?;
            let user = if t.user.contains("include 'period'") {
                PERIOD
            } else {
                t.user
            };
            let text = format!(
                "## system\n{}\n\n## user\n{}\n\n## schema\n{}\n",
                t.system.replace("{{ rules }}", COMMON_RULES),
                user,
                crate::schema::schema(t.feature)
            );
            let version = blake3::hash(text.as_bytes()).to_hex()[..12].to_string();
            revisions.push((
                t.feature,
                PromptRevision {
                    name,
                    version,
                    text,
                },
            ));
        }
        Ok(Self { env, revisions })
    }

    pub fn revisions(&self) -> impl Iterator<Item = &PromptRevision> {
        self.revisions.iter().map(|(_, r)| r)
    }

    pub fn version(&self, f: Feature) -> &str {
        &self
            .revisions
            .iter()
            .find(|(g, _)| *g == f)
            .expect("every feature has a prompt")
            .1
            .version
    }

    /// Renders (system, user) for `f` with `vars`.
    pub fn render(&self, f: Feature, vars: &Value) -> Result<(String, String), String> {
        let mut ctx = vars.clone();
        if let Value::Object(m) = &mut ctx {
            m.insert("rules".into(), Value::String(COMMON_RULES.into()));
        }
        let ctx = minijinja::Value::from_serialize(&ctx);
        let name = f.as_str();
        let sys = self
            .env
            .get_template(&format!("{name}.system"))
            .and_then(|t| t.render(&ctx))
            .map_err(|e| format!("render {name}.system: {e}"))?;
        let user = self
            .env
            .get_template(&format!("{name}.user"))
            .and_then(|t| t.render(&ctx))
            .map_err(|e| format!("render {name}.user: {e}"))?;
        Ok((sys, user))
    }
}
