//! The project's own affect lexicon (written for Kalei; not derived from NRC or
//! any other licensed list).
//!
//! * Sentiment valence on a -4..4 scale (VADER-like magnitudes).
//! * Plutchik emotion associations with intensity 1..3.
//! * Arousal overrides (0..1) where the emotion-derived default is wrong.
//! * Modifiers: negators, intensifiers, dampeners, contrast markers.
//!
//! Everything is compiled once into a hash map behind a `LazyLock`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

pub(crate) const JOY: usize = 0;
pub(crate) const TRUST: usize = 1;
pub(crate) const FEAR: usize = 2;
pub(crate) const SURPRISE: usize = 3;
pub(crate) const SADNESS: usize = 4;
pub(crate) const DISGUST: usize = 5;
pub(crate) const ANGER: usize = 6;
pub(crate) const ANTICIPATION: usize = 7;

pub(crate) const M_NEGATOR: u8 = 1;
pub(crate) const M_BOOST: u8 = 2;
pub(crate) const M_DAMP: u8 = 4;
pub(crate) const M_CONTRAST: u8 = 8;

#[derive(Debug, Default, Clone)]
pub(crate) struct Entry {
    /// Sentiment valence, -4..4 (0 = none).
    pub valence: f32,
    /// Arousal 0..1, or negative when unknown.
    pub arousal: f32,
    /// Plutchik intensities 0..1.
    pub emo: [f32; 8],
    /// Modifier bits (`M_*`).
    pub mods: u8,
    /// Intensifier / dampener strength.
    pub scalar: f32,
}

impl Entry {
    pub fn has_emotion(&self) -> bool {
        self.emo.iter().any(|&x| x > 0.0)
    }
}

/// Sentiment valences. Format: `word:value` separated by whitespace.
const SENTIMENT: &str = "
abandon:-2.2 abandoned:-2.3 abuse:-3.2 abused:-3.2 abusive:-3.2 accept:1.2 accepted:1.6 accomplish:1.8 accomplished:2.0 achieve:1.8 achievement:2.1
ache:-1.6 aching:-1.8 admire:2.1 adore:2.6 afraid:-2.0 aggressive:-1.8 agitated:-1.7 agony:-2.9 alive:1.2 alone:-1.6 amazed:2.2 amazing:2.8 anger:-2.4 angry:-2.3
anguish:-2.9 annoyed:-1.6 annoying:-1.6 anxiety:-2.1 anxious:-1.9 apathetic:-1.4 appreciate:2.0 appreciated:2.1 approve:1.5 argue:-1.4 argument:-1.4 ashamed:-2.2
attack:-2.1 attacked:-2.2 awesome:3.1 awful:-2.9 awkward:-1.2 bad:-2.5 badly:-2.1 beautiful:2.9 best:3.2 betray:-2.8 betrayed:-2.8 better:1.9 bitter:-1.8 blame:-1.6
bless:1.9 blessed:2.4 bliss:2.9 blue:-0.8 bored:-1.1 boring:-1.3 brave:2.2 break:-0.6 broke:-1.2 broken:-2.2 brokenhearted:-2.9 burden:-2.2 calm:1.4 can:0.0 care:1.6
cared:1.7 carefree:1.9 caring:2.1 celebrate:2.6 chaos:-1.8 cheat:-2.4 cheated:-2.5 cheer:2.1 cheerful:2.5 cherish:2.4 comfort:1.6 comfortable:1.6 confident:2.1
confused:-1.3 confusing:-1.2 content:1.5 crap:-1.9 crazy:-1.3 creepy:-1.8 crisis:-2.6 critical:-1.1 criticise:-1.6 criticize:-1.6 cruel:-2.8 crushed:-2.4 cry:-2.1
crying:-2.2 cried:-2.1 damn:-1.3 danger:-2.3 dangerous:-2.2 dead:-3.0 death:-2.9 defeated:-2.1 delight:2.9 delighted:2.9 depressed:-2.6 depressing:-2.4
depression:-2.6 desperate:-2.3 despair:-2.9 destroy:-2.6 destroyed:-2.7 devastated:-3.0 die:-2.9 died:-2.6 difficult:-1.4 disappointed:-2.0 disappointing:-2.0
disappointment:-2.1 disaster:-3.0 disgust:-2.5 disgusted:-2.6 disgusting:-2.7 dislike:-1.6 distressed:-2.2 down:-0.8 drained:-1.6 dread:-2.4 dumb:-2.0 eager:1.6
easy:1.3 ecstatic:3.2 embarrassed:-1.7 empty:-1.9 encouraged:1.9 energetic:1.6 enjoy:2.2 enjoyed:2.2 enthusiastic:2.3 evil:-3.1 excellent:3.0 excited:2.3
exciting:2.3 exhausted:-1.7 fail:-2.2 failed:-2.3 failing:-2.1 failure:-2.6 fake:-1.6 fantastic:3.0 fault:-1.6 fear:-2.2 fearful:-2.2 fight:-1.6 fine:0.8
fond:1.8 fool:-1.9 forgive:1.7 fortunate:2.1 fraud:-2.3 free:1.6 friendly:2.1 frightened:-2.3 frustrated:-2.0 frustrating:-2.0 fulfilled:2.4 fun:2.3 funny:1.9
furious:-2.9 glad:2.1 good:1.9 gorgeous:2.8 grateful:2.5 great:3.1 grief:-2.7 grieving:-2.6 gross:-2.0 guilt:-2.1 guilty:-2.1 happier:2.3 happiness:2.7 happy:2.7
harm:-2.5 hate:-2.7 hated:-2.7 hateful:-2.8 hatred:-3.0 heal:1.6 healing:1.6 healthy:1.7 heartbroken:-2.9 hell:-2.6 helpful:1.8 helpless:-2.3 hope:1.9 hopeful:2.1
hopeless:-2.9 horrible:-3.0 horrified:-2.8 hostile:-2.2 hurt:-2.3 hurting:-2.4 hurts:-2.3 idiot:-2.3 ignored:-1.8 ill:-1.8 inadequate:-2.1 incompetent:-2.2
insecure:-1.8 inspired:2.3 interesting:1.7 irritated:-1.8 isolated:-2.0 jealous:-1.8 joy:2.9 joyful:2.9 kill:-3.0 killed:-3.0 kind:1.9 laugh:2.1 laughed:2.0
lazy:-1.6 lonely:-2.3 loneliness:-2.4 lose:-1.6 loser:-2.5 losing:-1.6 loss:-2.0 lost:-1.7 love:3.0 loved:2.9 lovely:2.8 loving:2.8 lucky:2.0 mad:-2.2 mean:-1.4
mess:-1.7 messed:-1.8 miserable:-2.9 misery:-2.9 miss:-1.0 mistake:-1.6 motivated:1.9 nasty:-2.4 neglected:-2.2 nervous:-1.6 nice:1.9 nightmare:-2.6 numb:-1.6
ok:0.8 okay:0.8 overwhelmed:-2.0 pain:-2.4 painful:-2.4 panic:-2.4 paranoid:-1.8 pathetic:-2.6 peace:2.3 peaceful:2.3 perfect:2.7 pleasant:2.0 pleased:2.1
positive:1.9 powerless:-2.2 pretty:1.6 problem:-1.6 proud:2.4 rage:-2.8 regret:-2.0 rejected:-2.3 relaxed:2.0 relief:2.0 relieved:2.1 resent:-2.0
resentful:-2.1 respect:2.0 respected:2.0 ruin:-2.6 ruined:-2.7 sad:-2.1 sadness:-2.2 safe:1.9 satisfied:2.0 scared:-2.2 scary:-2.1 selfish:-2.0 shame:-2.3
shameful:-2.4 shit:-2.3 shitty:-2.4 shock:-1.6 shocked:-1.6 sick:-1.8 smile:2.1 smiled:2.1 sorry:-1.2 strong:1.9 stress:-1.9 stressed:-2.0 stressful:-2.0
struggle:-1.7 struggling:-1.9 stuck:-1.7 stupid:-2.4 succeed:2.3 success:2.4 successful:2.4 suffer:-2.4 suffering:-2.6 suicidal:-3.4 suicide:-3.4 superb:3.1
support:1.7 supported:1.9 supportive:2.0 sure:1.1 terrible:-2.9 terrified:-2.9 terrifying:-2.9 thank:1.8 thankful:2.3 thanks:1.8 threat:-2.1 threatened:-2.2
tired:-1.3 torture:-3.0 toxic:-2.4 tragedy:-2.8 trapped:-2.3 trauma:-2.5 traumatic:-2.6 trust:1.9 ugly:-2.3 unbearable:-2.8 uncomfortable:-1.5 unfair:-2.0
unhappy:-2.3 unloved:-2.5 unwanted:-2.3 upset:-1.9 useless:-2.5 valued:2.0 victim:-2.0 violence:-3.0 violent:-2.9 vulnerable:-1.4 warm:1.4 weak:-1.7 weird:-1.1
welcome:1.6 well:1.1 win:2.3 wonderful:3.0 worried:-1.9 worry:-1.8 worrying:-1.8 worse:-2.2 worst:-3.1 worthless:-2.9 worthy:1.9 wow:2.0 wrong:-2.0 yay:2.4
alright:0.9 appreciation:2.0 bright:1.5 calmer:1.5 clear:0.9 confidence:1.9 courage:2.1 curious:1.2 enjoying:2.2 excellent:3.0 excitement:2.3 faith:1.6
gentle:1.6 gift:1.8 glorious:2.8 honest:1.5 improve:1.6 improved:1.8 improving:1.7 joke:1.0 laughing:2.0 liked:1.8 like:0.0 playful:1.8 progress:1.7
recover:1.5 recovered:1.8 rest:0.8 rested:1.5 smiling:2.1 sweet:2.0 thrilled:2.9 together:0.9 useful:1.5 wins:2.1 won:2.1 worth:1.3 awesome:3.1
disconnected:-1.7 betrayal:-2.9 cheating:-2.4 cruelty:-2.9 defeat:-2.0 fails:-2.1 fears:-2.1 hates:-2.7 hating:-2.7 hurtful:-2.4 lie:-1.7 lied:-1.9 lies:-1.8
lying:-1.8 nervousness:-1.6 overthinking:-1.4 rejection:-2.3 scream:-1.8 screamed:-2.0 shout:-1.4 shouted:-1.7 sobbing:-2.4 suffocating:-2.4 tears:-1.8
unworthy:-2.5 yelled:-1.9 yelling:-1.9 insomnia:-1.6 grumpy:-1.6 moody:-1.3 hideous:-2.6 unattractive:-2.0 pointless:-2.3 meaningless:-2.3 worthlessness:-2.9
hopelessness:-2.9 self-hatred:-3.0 unlovable:-2.8 failures:-2.3 mistakes:-1.6 problems:-1.6 issues:-1.0 fighting:-1.7 killing:-2.9 dying:-2.9 bully:-2.4
bullied:-2.5 lonelier:-2.3 sucks:-2.0 suck:-1.9 hurted:-2.3 ashamedly:-2.0 beloved:2.6 enjoyable:2.2 relaxing:2.0 wonderfully:2.9 glad:2.1 yes:0.6 no:-0.3
";

/// Plutchik associations: `emotion: word[:intensity 1-3] ...` (default 2).
const EMOTIONS: [(&str, &str); 8] = [
    ("joy", "
happy:3 happier:3 happiness:3 joy:3 joyful:3 glad:2 delighted:3 delight:3 cheerful:3 cheer:2 excited:2 exciting:2 ecstatic:3 thrilled:3 elated:3 bliss:3
love:2 loved:2 lovely:2 loving:2 laugh:2 laughed:2 laughing:2 smile:2 smiled:2 smiling:2 fun:2 enjoy:2 enjoyed:2 enjoying:2 enjoyable:2 great:2 wonderful:3
amazing:2 awesome:2 fantastic:2 good:1 nice:1 pleased:2 proud:2 grateful:2 thankful:2 blessed:2 celebrate:3 peace:1 peaceful:1 content:2 satisfied:2
relieved:2 relief:2 yay:3 win:2 won:2 success:2 successful:2 accomplished:2 beautiful:2 fulfilled:2 playful:2 funny:2 hopeful:1 inspired:2 free:1
carefree:2 comfortable:1 relaxed:1 sweet:1 perfect:2 best:1 glorious:3 wins:2 okay:1 fine:1 better:1 improved:1 calm:1 warm:1
"),
    ("trust", "
trust:3 trusted:3 safe:2 secure:2 support:2 supported:2 supportive:2 reliable:2 faith:2 believe:1 loyal:3 honest:2 friend:1 friends:1 together:1
care:2 cared:2 caring:2 comfort:2 accepted:2 accept:1 respect:2 respected:2 valued:2 appreciate:2 appreciated:2 kind:2 gentle:2 understood:2 listen:1
listened:2 hug:2 family:1 partner:1 confident:1 confidence:1 sure:1 forgive:2 welcome:2 helpful:2 heal:1 healing:1 therapist:1 love:1 loved:2 beloved:2
"),
    ("fear", "
afraid:3 fear:3 fears:3 fearful:3 scared:3 scary:3 terrified:3 terrifying:3 frightened:3 panic:3 anxious:2 anxiety:2 worried:2 worry:2 worrying:2
nervous:2 nervousness:2 dread:3 dreading:3 threat:2 threatened:3 danger:3 dangerous:3 unsafe:3 paranoid:2 insecure:1 uncertain:1 unsure:1 horror:3
horrified:3 nightmare:2 nightmares:2 trapped:2 helpless:2 vulnerable:2 overwhelmed:1 stress:1 stressed:1 stressful:1 tense:1 uneasy:2 shaking:2 trembling:2
die:2 death:2 dying:2 suicidal:2 suicide:2 kill:1 abuse:2 abused:2 attack:2 attacked:2 hide:1 hiding:1 alarm:2 avoid:1 phobia:3 creepy:2 disaster:2
crisis:2 emergency:2 worst:1 pressure:1 insomnia:1 overthinking:1 suffocating:2 violence:2 violent:2 trauma:2 traumatic:2
"),
    ("surprise", "
surprise:3 surprised:3 surprising:3 shock:3 shocked:3 shocking:3 amazed:3 amazing:1 astonished:3 stunned:3 sudden:2 suddenly:2 unexpected:3
unexpectedly:3 wow:3 unbelievable:2 startled:3 realise:1 realize:1 realised:1 realized:1 weird:1 strange:1 confused:1 confusing:1 wonder:1
"),
    ("sadness", "
sad:3 sadness:3 unhappy:3 depressed:3 depressing:3 depression:3 cry:3 crying:3 cried:3 tears:3 sobbing:3 grief:3 grieving:3 mourn:3 loss:2 lost:2
lonely:3 loneliness:3 alone:2 isolated:2 empty:2 hopeless:3 hopelessness:3 despair:3 miserable:3 misery:3 heartbroken:3 brokenhearted:3 broken:2
hurt:2 hurting:2 hurts:2 pain:2 painful:2 miss:2 missed:1 regret:2 sorry:1 disappointed:2 disappointing:2 disappointment:2 rejected:2 rejection:2
unloved:3 unwanted:3 worthless:2 worthlessness:2 useless:2 failure:2 failed:2 fail:1 down:1 blue:1 low:1 tired:1 exhausted:1 drained:1 numb:2
die:1 died:2 death:2 dead:2 dying:2 suicidal:3 suicide:3 guilty:1 guilt:1 ashamed:1 shame:1 pointless:2 meaningless:2 defeated:2 struggling:1
suffer:2 suffering:2 tragedy:3 neglected:2 ignored:1 abandoned:3 abandon:2 gloomy:2 apathetic:1 unlovable:3 disconnected:1 burden:2 hideous:1
"),
    ("disgust", "
disgust:3 disgusted:3 disgusting:3 gross:3 sick:1 nasty:2 vile:3 revolting:3 repulsive:3 hate:1 hated:1 hateful:2 ugly:2 hideous:2 creepy:1
shame:2 shameful:2 ashamed:2 embarrassed:1 pathetic:2 toxic:2 fake:1 cheat:2 cheated:2 cheating:2 betray:1 betrayed:1 betrayal:1 evil:2 cruel:1
selfish:2 loser:1 stupid:1 idiot:1 dumb:1 crap:2 shit:2 shitty:2 sucks:1 unattractive:1 self-hatred:3 abuse:1 abused:1 abusive:2 lie:1 lied:1 lying:1
"),
    ("anger", "
angry:3 anger:3 mad:3 furious:3 rage:3 hate:2 hated:2 hates:2 hating:2 hatred:3 irritated:2 annoyed:2 annoying:2 frustrated:2 frustrating:2
resent:2 resentful:2 bitter:2 hostile:3 aggressive:3 fight:2 fighting:2 argue:2 argument:2 yelled:2 yelling:2 scream:2 screamed:2 shout:2 shouted:2
unfair:2 betrayed:2 betray:2 betrayal:2 cheated:2 blame:2 kill:2 killing:2 attack:2 attacked:2 destroy:2 destroyed:1 violence:2 violent:3 cruel:2
abuse:2 abused:1 abusive:2 damn:1 grumpy:2 irritable:2 jealous:1 bully:2 bullied:1 lied:1 offended:2 outraged:3 pissed:3 moody:1 toxic:1
"),
    ("anticipation", "
hope:2 hopeful:2 excited:2 eager:3 expect:2 expecting:2 waiting:1 wait:1 plan:1 plans:1 planning:1 soon:1 tomorrow:1 future:1 goal:2 goals:2
motivated:2 ready:2 prepare:1 preparing:1 want:1 wish:1 looking:1 forward:1 curious:2 anticipate:3 anxious:1 worried:1 worry:1 dread:1 wonder:1
progress:1 improve:1 improving:1 start:1 starting:1 try:1 trying:1 new:1 chance:1 opportunity:2 maybe:1 someday:1 will:0
"),
];

/// Arousal overrides (0 calm .. 1 activated).
const AROUSAL: &str = "
calm:0.1 peaceful:0.1 relaxed:0.1 content:0.25 tired:0.2 exhausted:0.2 drained:0.15 numb:0.1 empty:0.15 bored:0.15 sad:0.3 depressed:0.25 lonely:0.3
hopeless:0.3 apathetic:0.1 sleepy:0.1 rested:0.2 comfortable:0.2 safe:0.25 fine:0.3 okay:0.3 ok:0.3 furious:0.95 rage:0.95 panic:0.95 terrified:0.95
ecstatic:0.95 thrilled:0.9 excited:0.85 angry:0.85 scared:0.8 afraid:0.75 anxious:0.75 frantic:0.95 screaming:0.9 scream:0.9 stressed:0.75 overwhelmed:0.75
shocked:0.85 nervous:0.7 worried:0.65 happy:0.6 joyful:0.7 love:0.55 grateful:0.4 proud:0.6 frustrated:0.7 annoyed:0.6 hate:0.75 suicidal:0.8
";

/// Intensifiers with their strength (added in the direction of the valence).
const BOOSTERS: &str = "
very:0.293 really:0.293 so:0.293 extremely:0.35 incredibly:0.35 totally:0.3 completely:0.3 absolutely:0.3 utterly:0.35 truly:0.25 deeply:0.3
super:0.3 such:0.2 too:0.2 highly:0.25 terribly:0.3 awfully:0.3 insanely:0.35 seriously:0.25 literally:0.2 fully:0.2 entirely:0.25 most:0.2 more:0.15
especially:0.2 particularly:0.2 hugely:0.3 massively:0.3 enormously:0.3 exceptionally:0.3 thoroughly:0.25 unbelievably:0.35 damn:0.2 freaking:0.3
fucking:0.35 bloody:0.25 majorly:0.3 extra:0.2 quite:0.1
";

/// Dampeners (subtracted in the direction of the valence).
const DAMPENERS: &str = "
slightly:0.3 somewhat:0.25 barely:0.4 hardly:0.4 little:0.2 bit:0.25 kind:0.2 sort:0.2 kinda:0.25 sorta:0.25 fairly:0.15 almost:0.2 marginally:0.3
partly:0.25 occasionally:0.2 mildly:0.3 rather:0.1 scarcely:0.4 less:0.2 mostly:0.1 pretty:0.0 moderately:0.2 relatively:0.2 only:0.1
";

const NEGATORS: &str = "not no never none nobody nothing neither nor without cannot hardly nowhere n't lack lacking rarely seldom";

const CONTRAST: &str = "but however although though yet whereas nevertheless nonetheless";

/// Frequent words with no affect: stored so that a miss does not fall through
/// to suffix stripping.
const STOP: &str = "
the a an and or of to in on at for with from by as is am are was were be been being have has had do does did i me my mine myself you your yours
yourself he him his himself she her hers herself it its itself we us our ours ourselves they them their theirs themselves this that these those
there here what which who whom whose when where why how all any both each few other some such than then also just about into over after before
again further once because if while until up out off under would could should will shall may might must can need going get got make made go went
one two three time day days year years week weeks month months people person thing things way lot lots even still back now today know think thought
say said tell told see saw come came take took want wanted feel feeling felt like really much many every ever since though anything everything
something nothing someone everyone anyone mom dad mother father husband wife boyfriend girlfriend son daughter sister brother friend friends school
work job home life house family parents kids child children
";

pub(crate) type FxMap<V> = HashMap<&'static str, V, BuildHasherDefault<FxHasher>>;

/// Small, fast non-cryptographic hasher for short static keys.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.hash = (self.hash.rotate_left(5) ^ w).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap()));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

fn pairs(src: &'static str) -> impl Iterator<Item = (&'static str, f32)> {
    src.split_whitespace().map(|p| match p.rsplit_once(':') {
        Some((w, v)) => (w, v.parse::<f32>().expect("lexicon value")),
        None => (p, 2.0),
    })
}

static LEXICON: LazyLock<FxMap<Entry>> = LazyLock::new(|| {
    let mut m: FxMap<Entry> = FxMap::default();
    let blank = || Entry {
        arousal: -1.0,
        ..Entry::default()
    };
    for w in STOP.split_whitespace() {
        m.entry(w).or_insert_with(blank);
    }
    for (w, v) in pairs(SENTIMENT) {
        m.entry(w).or_insert_with(blank).valence = v;
    }
    for (name, list) in EMOTIONS.iter() {
        let idx = match *name {
            "joy" => JOY,
            "trust" => TRUST,
            "fear" => FEAR,
            "surprise" => SURPRISE,
            "sadness" => SADNESS,
            "disgust" => DISGUST,
            "anger" => ANGER,
            _ => ANTICIPATION,
        };
        for (w, v) in pairs(list) {
            m.entry(w).or_insert_with(blank).emo[idx] = v / 3.0;
        }
    }
    for (w, v) in pairs(AROUSAL) {
        m.entry(w).or_insert_with(blank).arousal = v;
    }
    for (w, v) in pairs(BOOSTERS) {
        let e = m.entry(w).or_insert_with(blank);
        e.mods |= M_BOOST;
        e.scalar = v;
    }
    for (w, v) in pairs(DAMPENERS) {
        let e = m.entry(w).or_insert_with(blank);
        e.mods |= M_DAMP;
        e.scalar = v;
    }
    for w in NEGATORS.split_whitespace() {
        m.entry(w).or_insert_with(blank).mods |= M_NEGATOR;
    }
    for w in CONTRAST.split_whitespace() {
        m.entry(w).or_insert_with(blank).mods |= M_CONTRAST;
    }
    // Emotion words without an explicit valence get one from their emotions.
    for e in m.values_mut() {
        if e.valence == 0.0 && e.has_emotion() {
            let pos = e.emo[JOY] + e.emo[TRUST] * 0.8;
            let neg = e.emo[FEAR] + e.emo[SADNESS] + e.emo[DISGUST] + e.emo[ANGER];
            e.valence = ((pos - neg) * 2.0).clamp(-3.0, 3.0);
        }
    }
    m
});

/// Suffix rules tried, in order, when a word is not in the lexicon.
const SUFFIXES: &[(&str, &str)] = &[
    ("iness", "y"),
    ("ness", ""),
    ("ies", "y"),
    ("ied", "y"),
    ("ily", "y"),
    ("ing", ""),
    ("ing", "e"),
    ("ed", ""),
    ("ed", "e"),
    ("es", ""),
    ("s", ""),
    ("ly", ""),
];

/// Looks a normalised word up, falling back to simple suffix stripping.
pub(crate) fn lookup(word: &str) -> Option<&'static Entry> {
    let lex = &*LEXICON;
    if let Some(e) = lex.get(word) {
        return Some(e);
    }
    if word.len() < 4 || !word.is_ascii() {
        return None;
    }
    let mut buf = [0u8; 40];
    for (suf, rep) in SUFFIXES {
        if let Some(stem) = word.strip_suffix(suf) {
            if stem.len() < 3 {
                continue;
            }
            let n = stem.len() + rep.len();
            if n > buf.len() {
                return None;
            }
            buf[..stem.len()].copy_from_slice(stem.as_bytes());
            buf[stem.len()..n].copy_from_slice(rep.as_bytes());
            // ASCII in, ASCII out.
            let cand = std::str::from_utf8(&buf[..n]).ok()?;
            if let Some(e) = lex.get(cand) {
                return Some(e);
            }
            // doubled consonant: "stopped" → "stop"
            let b = cand.as_bytes();
            if rep.is_empty() && n >= 4 && b[n - 1] == b[n - 2] {
                if let Some(e) = lex.get(&cand[..n - 1]) {
                    return Some(e);
                }
            }
        }
    }
    None
}

/// Number of distinct lexicon entries (for tests and docs).
pub fn lexicon_size() -> usize {
    LEXICON.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_and_stemming() {
        assert!(lookup("happy").unwrap().valence > 2.0);
        assert!(lookup("worries").unwrap().emo[FEAR] > 0.0);
        assert!(lookup("hating").unwrap().emo[ANGER] > 0.0);
        assert!(lookup("not").unwrap().mods & M_NEGATOR != 0);
        assert!(lookup("extremely").unwrap().mods & M_BOOST != 0);
        assert!(lookup("zzzz").is_none());
        assert!(lexicon_size() > 600);
    }
}
