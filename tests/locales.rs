//! The translations in `data/locale` (issue 36): every language OBS users run most has exactly en-US's keys,
//! the same numbered placeholders in each value (word order may differ), intact file-dialog patterns, and
//! no "(s)" plural that reads wrong in languages with several plural forms. en-US, the source of truth, has
//! every key the code asks for and none it does not.

use obs_virtual_background::settings::{BackgroundMode, Device, ImageFit, MaskView, ModelChoice};
use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The languages shipped besides en-US.
const LOCALES: [&str; 12] =
    ["de-DE", "es-ES", "fr-FR", "it-IT", "ja-JP", "ko-KR", "pl-PL", "pt-BR", "ru-RU", "tr-TR", "zh-CN", "zh-TW"];

fn locale_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/locale")
}

/// The (key, value) lines of a locale file in order, parsed the way OBS's text lookup reads them; panics
/// with the line on anything else.
fn entries(locale: &str) -> Vec<(String, String)> {
    let path = locale_dir().join(format!("{locale}.ini"));
    let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = String::from_utf8(bytes).unwrap_or_else(|e| panic!("{locale}: not UTF-8: {e}"));
    assert!(!text.starts_with('\u{feff}'), "{locale}: starts with a byte-order mark");
    assert!(!text.contains('\r'), "{locale}: Windows line ends");
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            let (key, quoted) = line.split_once('=').unwrap_or_else(|| panic!("{locale}:{}: no '='", n + 1));
            let value = quoted
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or_else(|| panic!("{locale}:{}: value not in double quotes", n + 1));
            assert!(!value.contains('"'), "{locale}:{}: a double quote inside the value", n + 1);
            assert!(!key.is_empty() && !key.contains(char::is_whitespace), "{locale}:{}: bad key {key:?}", n + 1);
            (key.to_string(), value.to_string())
        })
        .collect()
}

/// The numbered placeholders of a value: "%1", "%2", ...
fn placeholders(value: &str) -> BTreeSet<String> {
    value
        .split('%')
        .skip(1)
        .map(|after| after.chars().take_while(char::is_ascii_digit).collect::<String>())
        .filter(|digits| !digits.is_empty())
        .map(|digits| format!("%{digits}"))
        .collect()
}

/// What a Qt file-dialog filter needs to work: its "(*.ext ...)" groups and ";;" separators.
fn filter_patterns(value: &str) -> (Vec<String>, usize) {
    let groups = value
        .split('(')
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(inside, _)| inside.to_string()))
        .filter(|inside| inside.starts_with("*."))
        .collect();
    (groups, value.matches(";;").count())
}

#[test]
fn every_locale_has_exactly_the_keys_and_placeholders_of_en_us() {
    let source = entries("en-US");
    let keys: Vec<&String> = source.iter().map(|(k, _)| k).collect();
    assert_eq!(keys.iter().collect::<HashSet<_>>().len(), keys.len(), "en-US: a key twice");
    for locale in LOCALES {
        let translated = entries(locale);
        let their_keys: Vec<&String> = translated.iter().map(|(k, _)| k).collect();
        let missing: Vec<_> = keys.iter().filter(|k| !their_keys.contains(k)).collect();
        let extra: Vec<_> = their_keys.iter().filter(|k| !keys.contains(k)).collect();
        assert!(missing.is_empty() && extra.is_empty(), "{locale}: missing {missing:?}, not in en-US {extra:?}");
        assert_eq!(their_keys, keys, "{locale}: the keys in another order, or one twice");
        for ((key, english), (_, value)) in source.iter().zip(&translated) {
            assert!(!value.trim().is_empty(), "{locale}: {key} is empty");
            assert_eq!(placeholders(value), placeholders(english), "{locale}: {key} = {value:?}");
            if key.ends_with(".Filter") {
                assert_eq!(filter_patterns(value), filter_patterns(english), "{locale}: {key} = {value:?}");
            }
        }
    }
}

#[test]
fn no_value_counts_with_a_parenthesised_plural() {
    for locale in std::iter::once("en-US").chain(LOCALES) {
        for (key, value) in entries(locale) {
            assert!(!value.contains("(s)"), "{locale}: {key} = {value:?} reads wrong for some numbers");
        }
    }
}

/// Every string literal in the crate's sources.
fn literals_in(dir: &Path, found: &mut BTreeSet<String>) {
    for path in fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()) {
        if path.is_dir() {
            literals_in(&path, found);
        } else if path.extension() == Some("rs".as_ref()) {
            let code = fs::read_to_string(&path).unwrap();
            found.extend(code.split('"').skip(1).step_by(2).map(str::to_string));
        }
    }
}

/// (the locale keys the code asks for, every literal that may name one): `text("...")`, `text_ptr(c"...")`,
/// the "Source." and "Status." keys it chooses between, and one label per choice of each list.
fn keys_the_code_uses() -> (BTreeSet<String>, BTreeSet<String>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut literals = BTreeSet::new();
    literals_in(&src, &mut literals);
    let mut asked: BTreeSet<String> = literals
        .iter()
        .filter(|l| l.starts_with("Source.") || l.starts_with("Status."))
        .filter(|l| !l.contains(char::is_whitespace))
        .cloned()
        .collect();
    let obs_glue = src.join("obs");
    for path in fs::read_dir(&obs_glue).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_file()) {
        let code = fs::read_to_string(&path).unwrap();
        for opener in ["text(\"", "text_ptr(c\""] {
            for (i, _) in code.match_indices(opener) {
                let start = i + opener.len();
                asked.insert(code[start..start + code[start..].find('"').unwrap()].to_string());
            }
        }
    }
    fn choices(prefix: &str, keys: impl Iterator<Item = &'static str>) -> Vec<String> {
        keys.map(|k| format!("{prefix}.{k}")).collect()
    }
    asked.extend(choices("Mode", BackgroundMode::ALL.iter().map(|v| v.key())));
    asked.extend(choices("Fit", ImageFit::ALL.iter().map(|v| v.key())));
    asked.extend(choices("Model", ModelChoice::ALL.iter().map(|v| v.key())));
    asked.extend(choices("Device", Device::ALL.iter().map(|v| v.key())));
    asked.extend(choices("MaskView", MaskView::ALL.iter().map(|v| v.key())));
    literals.extend(asked.iter().cloned());
    (asked, literals)
}

#[test]
fn en_us_has_every_key_the_code_uses_and_no_other() {
    let (asked, mentioned) = keys_the_code_uses();
    let defined: BTreeSet<String> = entries("en-US").into_iter().map(|(k, _)| k).collect();
    let undefined: Vec<_> = asked.difference(&defined).collect();
    assert!(undefined.is_empty(), "asked for but not in en-US (shown as the bare key): {undefined:?}");
    let unused: Vec<_> = defined.difference(&mentioned).collect();
    assert!(
        unused.is_empty(),
        "in en-US but never asked for (stale, or asked for in a way this test misses): {unused:?}"
    );
}
