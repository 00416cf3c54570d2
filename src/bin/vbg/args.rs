//! Command-line arguments. Settings flags map onto the plugin's settings keys, so `vbg` and the OBS filter
//! share names, defaults and ranges (`obs_virtual_background::settings`).

use obs_virtual_background::error::Error;
use obs_virtual_background::settings::{keys, BackgroundMode, ImageFit, ModelChoice, Rgba, Settings, SettingsSource};
use std::collections::HashMap;

/// Settings flags: (flag, settings key).
pub const SETTING_FLAGS: &[(&str, &str)] = &[
    ("--mode", keys::MODE),
    ("--blur", keys::BLUR_STRENGTH),
    ("--background", keys::IMAGE_PATH),
    ("--fit", keys::IMAGE_FIT),
    ("--color", keys::COLOR),
    ("--model", keys::MODEL),
    ("--model-path", keys::MODEL_PATH),
    ("--threshold", keys::THRESHOLD),
    ("--softness", keys::SOFTNESS),
    ("--threads", keys::THREADS),
    ("--edge-refine", keys::EDGE_REFINE),
    ("--follow", keys::FOLLOW_PERSON),
    ("--mirror-average", keys::MIRROR_AVERAGE),
    ("--predict", keys::PREDICT_MOTION),
    ("--temporal", keys::TEMPORAL_SMOOTHING),
    ("--grow", keys::GROW),
    ("--feather", keys::FEATHER),
    ("--light-wrap", keys::LIGHT_WRAP),
];

pub struct Args {
    pub positional: Vec<String>,
    values: HashMap<String, String>,
    switches: Vec<String>,
}

impl Args {
    /// Parses `--flag value`, `--flag=value` and bare switches; anything not listed is an error.
    pub fn parse(raw: &[String], value_flags: &[&str], switch_flags: &[&str]) -> Result<Args, Error> {
        let mut args = Args { positional: Vec::new(), values: HashMap::new(), switches: Vec::new() };
        let mut it = raw.iter();
        while let Some(a) = it.next() {
            if !a.starts_with("--") {
                args.positional.push(a.clone());
                continue;
            }
            let (name, inline) = match a.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (a.as_str(), None),
            };
            if switch_flags.contains(&name) && inline.is_none() {
                args.switches.push(name.to_string());
            } else if value_flags.contains(&name) || SETTING_FLAGS.iter().any(|(f, _)| *f == name) {
                let value = match inline {
                    Some(v) => v,
                    None => it.next().cloned().ok_or_else(|| usage(format!("{name} needs a value")))?,
                };
                args.values.insert(name.to_string(), value);
            } else {
                return Err(usage(format!("unknown option {name}")));
            }
        }
        Ok(args)
    }

    pub fn value(&self, flag: &str) -> Option<&str> {
        self.values.get(flag).map(String::as_str)
    }

    pub fn switch(&self, flag: &str) -> bool {
        self.switches.iter().any(|s| s == flag)
    }

    pub fn number<T: std::str::FromStr>(&self, flag: &str, default: T) -> Result<T, Error> {
        match self.value(flag) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| usage(format!("{flag}: '{v}' is not a number"))),
        }
    }

    /// The plugin's settings from the flags, rejecting values the plugin would silently replace.
    pub fn settings(&self) -> Result<Settings, Error> {
        let choice = |flag: &str, ok: bool, valid: &[&str]| {
            if ok {
                Ok(())
            } else {
                Err(usage(format!("{flag}: '{}' is not one of {}", self.value(flag).unwrap_or(""), valid.join(", "))))
            }
        };
        if let Some(m) = self.value("--mode") {
            let valid: Vec<_> = BackgroundMode::ALL.iter().map(|m| m.key()).collect();
            choice("--mode", BackgroundMode::from_key(m).is_some(), &valid)?;
        }
        if let Some(f) = self.value("--fit") {
            let valid: Vec<_> = ImageFit::ALL.iter().map(|f| f.key()).collect();
            choice("--fit", ImageFit::from_key(f).is_some(), &valid)?;
        }
        if let Some(c) = self.value("--color") {
            choice("--color", Rgba::parse_hex(c).is_some(), &["#rrggbb", "#rrggbbaa"])?;
        }
        if let Some(m) = self.value("--model") {
            choice("--model", model_key(m).is_some(), &["general", "landscape", "modnet", "a path to an .onnx file"])?;
        }
        if let Some(v) = self.value("--edge-refine") {
            choice("--edge-refine", parse_switch(v).is_some(), &["on", "off"])?;
        }
        for flag in
            ["--blur", "--threshold", "--softness", "--threads", "--temporal", "--grow", "--feather", "--light-wrap"]
        {
            if let Some(v) = self.value(flag) {
                v.parse::<f64>().map_err(|_| usage(format!("{flag}: '{v}' is not a number")))?;
            }
        }
        Ok(Settings::read(self))
    }
}

/// `general`, `landscape`, the settings keys, or a path to a custom model.
fn model_key(value: &str) -> Option<ModelChoice> {
    match value {
        "general" => Some(ModelChoice::SelfieGeneral),
        "landscape" => Some(ModelChoice::SelfieLandscape),
        "modnet" => Some(ModelChoice::Modnet),
        v if v.ends_with(".onnx") => Some(ModelChoice::Custom),
        v => ModelChoice::from_key(v),
    }
}

impl SettingsSource for Args {
    fn string(&self, key: &str) -> Option<String> {
        if key == keys::MODEL {
            return self.value("--model").and_then(model_key).map(|c| c.key().to_string());
        }
        if key == keys::MODEL_PATH {
            let custom = self.value("--model").filter(|m| m.ends_with(".onnx"));
            return custom.or(self.value("--model-path")).map(String::from);
        }
        let flag = SETTING_FLAGS.iter().find(|(_, k)| *k == key)?.0;
        self.value(flag).map(String::from)
    }

    fn int(&self, key: &str) -> Option<i64> {
        if key == keys::COLOR {
            return self.value("--color").and_then(Rgba::parse_hex).map(Rgba::to_obs);
        }
        self.string(key)?.parse::<f64>().ok().map(|v| v.round() as i64)
    }

    fn float(&self, key: &str) -> Option<f64> {
        self.string(key)?.parse().ok()
    }

    fn boolean(&self, key: &str) -> Option<bool> {
        parse_switch(&self.string(key)?)
    }
}

fn parse_switch(v: &str) -> Option<bool> {
    match v {
        "on" | "true" | "1" | "yes" => Some(true),
        "off" | "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

pub fn usage(message: String) -> Error {
    Error::new(obs_virtual_background::error::ErrorKind::Install, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Args, Error> {
        let raw: Vec<String> = s.split_whitespace().map(String::from).collect();
        Args::parse(&raw, &["--json"], &["--quiet"])
    }

    #[test]
    fn flags_become_plugin_settings() {
        let a =
            parse("in.mp4 out.mp4 --mode color --color #ff0000 --blur=80 --model landscape --threshold 0.4").unwrap();
        assert_eq!(a.positional, vec!["in.mp4", "out.mp4"]);
        let s = a.settings().unwrap();
        assert_eq!(s.mode, BackgroundMode::Color);
        assert_eq!(s.color, Rgba { r: 255, g: 0, b: 0, a: 255 });
        assert_eq!(s.blur_strength, 80);
        assert_eq!(s.model, ModelChoice::SelfieLandscape);
        assert!((s.threshold - 0.4).abs() < 1e-6);
        assert_eq!(s.softness, Settings::default().softness);
    }

    #[test]
    fn a_model_path_selects_a_custom_model() {
        let s = parse("--model /tmp/m.onnx").unwrap().settings().unwrap();
        assert_eq!((s.model, s.model_path.as_str()), (ModelChoice::Custom, "/tmp/m.onnx"));
    }

    #[test]
    fn bad_values_are_errors_not_defaults() {
        assert!(parse("--mode sepia").unwrap().settings().is_err());
        assert!(parse("--color green").unwrap().settings().is_err());
        assert!(parse("--blur lots").unwrap().settings().is_err());
        assert!(parse("--frobnicate 1").is_err());
        assert!(parse("--mode").is_err());
    }
}
