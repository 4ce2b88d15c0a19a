//! The languages the connect pages and link emails speak, and their catalogues.
//!
//! One catalogue per language (`shared/lang/<code>.json`, flat `key → text` with `{name}`
//! placeholders), compiled in and parsed once. Every language has every key English has (a
//! test fails otherwise); `label.<English label>` keys are optional translations of provider
//! field labels, which otherwise stay in English as the catalog writes them. Labels are
//! matched by their English text, not the field's name: `password` is an "Auth token" at
//! Twilio, and must not become "Mot de passe".
//!
//! Which language: the link's `lang`, else its consumer's `locale` (both noted on the link
//! when it is created), else the browser's `Accept-Language`, else English.

use chrono::{Datelike, Timelike};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    Fr,
    Nl,
    De,
}

pub const ALL: [Lang; 4] = [Lang::En, Lang::Fr, Lang::Nl, Lang::De];

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
            Lang::Nl => "nl",
            Lang::De => "de",
        }
    }

    /// The language of a BCP 47 tag (`fr`, `fr-BE`, `NL-nl`) if we speak it.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        ALL.into_iter().find(|l| l.code() == primary)
    }

    /// The first language of an `Accept-Language` header we speak, by quality (`q=0`
    /// means "not this"; equal qualities keep the header's order).
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut ranges: Vec<(f32, usize, &str)> = header
            .split(',')
            .enumerate()
            .filter_map(|(i, part)| {
                let mut pieces = part.split(';');
                let tag = pieces.next()?.trim();
                let q = pieces
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
                (q > 0.0 && q <= 1.0).then_some((q, i, tag))
            })
            .collect();
        ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranges
            .into_iter()
            .find_map(|(_, _, tag)| Lang::from_tag(tag))
    }

    /// The link's language if it has one, else the browser's, else English.
    pub fn negotiate(link: Option<Lang>, accept_language: Option<&str>) -> Lang {
        link.or_else(|| accept_language.and_then(Lang::from_accept_language))
            .unwrap_or(Lang::En)
    }

    /// The text of `key`, in English when this language lacks it (a test keeps that from
    /// happening for anything but optional labels).
    pub fn text(self, key: &str) -> &'static str {
        catalogue(self)
            .get(key)
            .or_else(|| catalogue(Lang::En).get(key))
            .map(String::as_str)
            .unwrap_or("")
    }

    /// `key` with its `{placeholders}` filled.
    pub fn fill(self, key: &str, args: &[(&str, &str)]) -> String {
        fill(self.text(key), args)
    }

    /// A provider field's label in this language when the catalogue has one, else the
    /// catalog's own (English).
    pub fn label(self, english: &str) -> String {
        catalogue(self)
            .get(&format!("label.{english}"))
            .cloned()
            .unwrap_or_else(|| english.to_owned())
    }

    /// "Sunday 29 November 2026 at 16:26 UTC", in this language.
    pub fn date(self, t: &crate::time::Timestamp) -> String {
        let pick = |key: &str, i: usize| {
            self.text(key)
                .split(',')
                .nth(i)
                .unwrap_or_default()
                .to_owned()
        };
        let weekday = pick("date.weekdays", t.weekday().num_days_from_monday() as usize);
        let month = pick("date.months", t.month0() as usize);
        self.fill(
            "date.format",
            &[
                ("weekday", &weekday),
                ("day", &t.day().to_string()),
                ("month", &month),
                ("year", &t.year().to_string()),
                ("time", &format!("{:02}:{:02}", t.hour(), t.minute())),
            ],
        )
    }
}

/// A consumer's preferred language as a BCP 47 tag (`fr`, `nl-BE`, `pt-BR`), kept as sent;
/// pages and emails use it when we speak its language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Locale(String);

impl Locale {
    pub fn parse(raw: &str) -> Result<Locale, String> {
        let mut parts = raw.split('-');
        let primary = parts.next().unwrap_or_default();
        let ok = raw.len() <= 35
            && (2..=3).contains(&primary.len())
            && primary.bytes().all(|b| b.is_ascii_alphabetic())
            && parts.all(|p| {
                (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric())
            });
        if ok {
            Ok(Locale(raw.to_owned()))
        } else {
            Err("must be a language tag like fr or nl-BE".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn lang(&self) -> Option<Lang> {
        Lang::from_tag(&self.0)
    }
}

impl TryFrom<String> for Locale {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Locale::parse(&s)
    }
}

impl From<Locale> for String {
    fn from(l: Locale) -> String {
        l.0
    }
}

/// A `lang` field: one of the languages we speak.
pub fn parse_lang(v: &serde_json::Value) -> Result<Lang, String> {
    v.as_str()
        .and_then(|s| ALL.into_iter().find(|l| l.code() == s))
        .ok_or_else(|| "must be one of en, fr, nl, de".to_string())
}

pub(crate) fn fill(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

const SOURCES: [(Lang, &str); 4] = [
    (Lang::En, include_str!("../lang/en.json")),
    (Lang::Fr, include_str!("../lang/fr.json")),
    (Lang::Nl, include_str!("../lang/nl.json")),
    (Lang::De, include_str!("../lang/de.json")),
];

/// A language's catalogue, parsed the first time that language is spoken: a page costs
/// one language's parse, however many languages there are.
fn catalogue(lang: Lang) -> &'static HashMap<String, String> {
    static CATALOGUES: [OnceLock<HashMap<String, String>>; SOURCES.len()] =
        [const { OnceLock::new() }; SOURCES.len()];
    static EMPTY: OnceLock<HashMap<String, String>> = OnceLock::new();
    match SOURCES.iter().position(|(l, _)| *l == lang) {
        // A malformed catalogue is caught by the tests; at run time it reads empty and
        // English (or the key's absence) shows instead of a failure.
        Some(i) => {
            CATALOGUES[i].get_or_init(|| serde_json::from_str(SOURCES[i].1).unwrap_or_default())
        }
        None => EMPTY.get_or_init(HashMap::new),
    }
}

/// Text a page shows, chosen by key when the page is built and put into words when it is
/// rendered, once the language is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    key: &'static str,
    args: Vec<(&'static str, String)>,
}

pub fn t(key: &'static str) -> Text {
    Text {
        key,
        args: Vec::new(),
    }
}

impl Text {
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Text {
        self.args.push((name, value.into()));
        self
    }

    pub fn render(&self, lang: Lang) -> String {
        let args: Vec<(&str, &str)> = self.args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        lang.fill(self.key, &args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn placeholders(s: &str) -> BTreeSet<String> {
        s.split('{')
            .skip(1)
            .filter_map(|p| p.split_once('}').map(|(name, _)| name.to_owned()))
            .collect()
    }

    #[test]
    fn every_catalogue_parses_and_has_every_key_with_the_same_placeholders() {
        let english: HashMap<String, String> = serde_json::from_str(SOURCES[0].1).unwrap();
        for (lang, src) in SOURCES {
            let other: HashMap<String, String> =
                serde_json::from_str(src).unwrap_or_else(|e| panic!("{lang:?}: {e}"));
            let required = |k: &&String| !k.starts_with("label.");
            let missing: Vec<_> = english
                .keys()
                .filter(required)
                .filter(|k| !other.contains_key(*k))
                .collect();
            assert!(missing.is_empty(), "{lang:?} lacks {missing:?}");
            let extra: Vec<_> = other
                .keys()
                .filter(required)
                .filter(|k| !english.contains_key(*k))
                .collect();
            assert!(
                extra.is_empty(),
                "{lang:?} has keys English lacks: {extra:?}"
            );
            for (key, text) in &other {
                assert!(!text.trim().is_empty(), "{lang:?} {key} is empty");
                if let Some(en) = english.get(key) {
                    assert_eq!(placeholders(text), placeholders(en), "{lang:?} {key}");
                }
            }
            assert_eq!(lang.text("date.weekdays").split(',').count(), 7, "{lang:?}");
            assert_eq!(lang.text("date.months").split(',').count(), 12, "{lang:?}");
        }
    }

    #[test]
    fn every_key_the_code_uses_is_in_english() {
        let english: HashMap<String, String> = serde_json::from_str(SOURCES[0].1).unwrap();
        let code = [
            include_str!("connect/api.rs"),
            include_str!("connect/api/page.rs"),
            include_str!("connect/api/oauth.rs"),
            include_str!("reminder/message.rs"),
            include_str!("connect/api/portal.rs"),
            include_str!("../templates/portal.html"),
        ]
        .concat();
        let used: BTreeSet<&str> = ["t(\"", "fill(\"", "word(\"", "with_name(\""]
            .iter()
            .flat_map(|opening| code.split(opening).skip(1))
            .filter_map(|s| s.split('"').next())
            .filter(|k| {
                k.starts_with("page.") || k.starts_with("email.") || k.starts_with("portal.")
            })
            .collect();
        assert!(used.len() > 30, "the scan finds the keys: {used:?}");
        for key in used {
            assert!(
                english.contains_key(key),
                "{key} is used but not in en.json"
            );
        }
    }

    #[test]
    fn languages_come_from_tags_and_accept_language_by_quality() {
        assert_eq!(Lang::from_tag("fr-BE"), Some(Lang::Fr));
        assert_eq!(Lang::from_tag("NL"), Some(Lang::Nl));
        assert_eq!(Lang::from_tag("de_CH"), Some(Lang::De));
        assert_eq!(Lang::from_tag("es"), None);
        assert_eq!(
            Lang::from_accept_language("es-ES,es;q=0.9,de;q=0.8,fr;q=0.7"),
            Some(Lang::De)
        );
        assert_eq!(
            Lang::from_accept_language("fr;q=0.5, nl;q=0.9"),
            Some(Lang::Nl)
        );
        assert_eq!(
            Lang::from_accept_language("fr;q=0, en;q=0.1"),
            Some(Lang::En),
            "q=0 excludes"
        );
        assert_eq!(Lang::from_accept_language("*"), None);
        assert_eq!(
            Lang::from_accept_language("de;q=abc"),
            None,
            "a malformed range is skipped"
        );
        assert_eq!(Lang::from_accept_language(""), None);
        assert_eq!(
            Lang::negotiate(Some(Lang::Fr), Some("de")),
            Lang::Fr,
            "the link wins"
        );
        assert_eq!(Lang::negotiate(None, Some("de-AT,en;q=0.5")), Lang::De);
        assert_eq!(Lang::negotiate(None, Some("ja")), Lang::En);
        assert_eq!(Lang::negotiate(None, None), Lang::En);
    }

    #[test]
    fn locales_are_language_tags() {
        assert_eq!(Locale::parse("nl-BE").unwrap().lang(), Some(Lang::Nl));
        assert_eq!(
            Locale::parse("pt-BR").unwrap().lang(),
            None,
            "kept, not spoken"
        );
        for bad in ["", "f", "french", "fr_BE", "fr-", "fr-toolongsubtag", "1r"] {
            assert!(Locale::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_lang(&serde_json::json!("de")), Ok(Lang::De));
        assert!(parse_lang(&serde_json::json!("DE")).is_err());
        assert!(parse_lang(&serde_json::json!("es")).is_err());
    }

    #[test]
    fn dates_and_labels_read_naturally() {
        use chrono::TimeZone;
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 11, 29, 16, 5, 0)
            .unwrap();
        assert_eq!(Lang::En.date(&at), "Sunday 29 November 2026 at 16:05 UTC");
        assert_eq!(Lang::Fr.date(&at), "dimanche 29 novembre 2026 à 16:05 UTC");
        assert_eq!(Lang::Nl.date(&at), "zondag 29 november 2026 om 16:05 UTC");
        assert_eq!(
            Lang::De.date(&at),
            "Sonntag, 29. November 2026 um 16:05 UTC"
        );
        assert_eq!(Lang::De.label("API key"), "API-Schlüssel");
        assert_eq!(
            Lang::De.label("Auth token"),
            "Auth token",
            "English fallback"
        );
        assert_eq!(Lang::En.label("API key"), "API key");
        assert_eq!(
            t("page.connect.heading")
                .with("software", "Xero")
                .render(Lang::Nl),
            "Xero koppelen"
        );
    }
}
