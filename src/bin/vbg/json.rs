//! Just enough JSON output for reports (no serde in the tool's dependencies).

use std::fmt::Write;

#[derive(Clone, Debug)]
pub enum Json {
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
    Null,
}

impl Json {
    pub fn obj(fields: Vec<(&str, Json)>) -> Json {
        Json::Obj(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        self.write(&mut s, 0);
        s.push('\n');
        s
    }

    fn write(&self, out: &mut String, indent: usize) {
        let pad = "  ".repeat(indent + 1);
        match self {
            Json::Num(n) if n.is_finite() => {
                let _ = write!(out, "{}", (n * 1e6).round() / 1e6);
            }
            Json::Num(_) | Json::Null => out.push_str("null"),
            Json::Str(s) => {
                out.push('"');
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        c if (c as u32) < 0x20 => {
                            let _ = write!(out, "\\u{:04x}", c as u32);
                        }
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            Json::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    out.push_str(if i == 0 { "\n" } else { ",\n" });
                    out.push_str(&pad);
                    v.write(out, indent + 1);
                }
                if !items.is_empty() {
                    let _ = write!(out, "\n{}", "  ".repeat(indent));
                }
                out.push(']');
            }
            Json::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    out.push_str(if i == 0 { "\n" } else { ",\n" });
                    out.push_str(&pad);
                    Json::Str(k.clone()).write(out, indent + 1);
                    out.push_str(": ");
                    v.write(out, indent + 1);
                }
                if !fields.is_empty() {
                    let _ = write!(out, "\n{}", "  ".repeat(indent));
                }
                out.push('}');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_nested_values_and_escapes() {
        let j = Json::obj(vec![
            ("a", Json::Num(1.5)),
            ("b", Json::Str("x\"y\n".into())),
            ("c", Json::Arr(vec![Json::Num(f64::NAN), Json::Null])),
        ]);
        let text = j.render();
        assert!(text.contains("\"a\": 1.5"));
        assert!(text.contains("\"x\\\"y\\u000a\""));
        assert!(text.contains("null"));
    }
}
