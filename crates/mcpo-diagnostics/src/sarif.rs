//! Diagnostics as a SARIF 2.1.0 log (`mcpoc check --format sarif`), the format code
//! scanning services (GitHub's among them) read.
//!
//! One run of the tool `mcpoc`; one rule per code that occurs, with the registry's
//! summary and explanation; one result per diagnostic with its region (1-based lines,
//! columns counted in Unicode code points, as the run declares), secondary labels as
//! related locations and machine-applicable fixes as SARIF fixes.

use crate::{Diagnostic, FileId, LineIndex, Severity, SourceMap, Span};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};

/// The SARIF schema the log declares.
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The SARIF log for `diags`, from the tool version `version`.
pub fn log(diags: &[Diagnostic], sources: &dyn SourceMap, version: &str) -> Value {
    let mut indexes: HashMap<FileId, LineIndex> = HashMap::new();
    let mut region = |file: FileId, span: Span| {
        let text = sources.text(file);
        let idx = indexes.entry(file).or_insert_with(|| LineIndex::new(text));
        let a = idx.line_col(text, span.start as usize);
        let b = idx.line_col(text, span.end as usize);
        json!({
            "startLine": a.line,
            "startColumn": a.column,
            "endLine": b.line,
            "endColumn": b.column,
        })
    };
    // Rules in code order, so the log is the same whatever order diagnostics came in.
    let codes: BTreeMap<&str, crate::Code> =
        diags.iter().map(|d| (d.code.as_str(), d.code)).collect();
    let rule_index: HashMap<&str, usize> = codes.keys().enumerate().map(|(i, c)| (*c, i)).collect();
    let rules: Vec<Value> = codes
        .values()
        .map(|code| {
            let (summary, explanation) =
                code.info().map_or(("", ""), |i| (i.summary, i.explanation));
            json!({
                "id": code.as_str(),
                "name": summary,
                "shortDescription": { "text": summary },
                "fullDescription": { "text": explanation, "markdown": explanation },
                "defaultConfiguration": { "level": level(code.default_severity()) },
            })
        })
        .collect();
    let results: Vec<Value> = diags
        .iter()
        .map(|d| {
            let mut message = d.message.clone();
            if !d.primary_label.is_empty() {
                message.push_str(&format!(" ({})", d.primary_label));
            }
            if let Some(help) = &d.help {
                message.push_str(&format!("\nhelp: {help}"));
            }
            let mut result = Map::new();
            result.insert("ruleId".into(), json!(d.code.as_str()));
            result.insert(
                "ruleIndex".into(),
                json!(rule_index.get(d.code.as_str()).copied().unwrap_or(0)),
            );
            result.insert("level".into(), json!(level(d.severity)));
            result.insert("message".into(), json!({ "text": message }));
            result.insert(
                "locations".into(),
                json!([location(
                    sources.name(d.file),
                    region(d.file, d.span),
                    None,
                    None
                )]),
            );
            if !d.labels.is_empty() {
                let related: Vec<Value> = d
                    .labels
                    .iter()
                    .enumerate()
                    .map(|(i, l)| {
                        location(
                            sources.name(l.file),
                            region(l.file, l.span),
                            Some(&l.message),
                            Some(i),
                        )
                    })
                    .collect();
                result.insert("relatedLocations".into(), json!(related));
            }
            if !d.fixes.is_empty() {
                let fixes: Vec<Value> = d
                    .fixes
                    .iter()
                    .map(|f| {
                        json!({
                            "description": { "text": f.title },
                            "artifactChanges": [{
                                "artifactLocation": { "uri": uri(sources.name(d.file)) },
                                "replacements": [{
                                    "deletedRegion": region(d.file, f.span),
                                    "insertedContent": { "text": f.replacement },
                                }],
                            }],
                        })
                    })
                    .collect();
                result.insert("fixes".into(), json!(fixes));
            }
            Value::Object(result)
        })
        .collect();
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "mcpoc",
                    "version": version,
                    "rules": rules,
                },
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

/// The log as a pretty-printed string.
pub fn to_string(diags: &[Diagnostic], sources: &dyn SourceMap, version: &str) -> String {
    serde_json::to_string_pretty(&log(diags, sources, version)).unwrap_or_else(|_| "{}".into())
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

fn location(file: &str, region: Value, message: Option<&str>, id: Option<usize>) -> Value {
    let mut loc = Map::new();
    if let Some(id) = id {
        loc.insert("id".into(), json!(id));
    }
    loc.insert(
        "physicalLocation".into(),
        json!({
            "artifactLocation": { "uri": uri(file) },
            "region": region,
        }),
    );
    if let Some(m) = message {
        loc.insert("message".into(), json!({ "text": m }));
    }
    Value::Object(loc)
}

/// A file's display name as a relative URI reference: `/` separators, no leading `./`,
/// and the characters a URI cannot hold percent-encoded.
fn uri(name: &str) -> String {
    let name = name.replace('\\', "/");
    let name = name.strip_prefix("./").unwrap_or(&name);
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Fix, Sources, codes};

    #[test]
    fn results_rules_locations_and_fixes() {
        let mut s = Sources::new();
        let f = s.add("./my dir/a.mcpo", "resource \"x\" \"y\" {\n  tga = 1\n}\n");
        let d = Diagnostic::error(codes::E0103, f, Span::new(21, 24), "no attribute `tga`")
            .with_label(Span::new(0, 8), "in this block")
            .with_help("did you mean `tag`?")
            .with_fix(Fix {
                title: "replace with `tag`".into(),
                span: Span::new(21, 24),
                replacement: "tag".into(),
            });
        let log = log(&[d], &s, "0.1.0");
        let run = &log["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"][0]["id"], "E0103");
        let r = &run["results"][0];
        assert_eq!(r["level"], "error");
        assert_eq!(r["ruleIndex"], 0);
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "my%20dir/a.mcpo");
        assert_eq!(loc["region"]["startLine"], 2);
        assert_eq!(loc["region"]["startColumn"], 3);
        assert_eq!(loc["region"]["endColumn"], 6);
        assert_eq!(r["relatedLocations"][0]["message"]["text"], "in this block");
        let rep = &r["fixes"][0]["artifactChanges"][0]["replacements"][0];
        assert_eq!(rep["insertedContent"]["text"], "tag");
        assert!(
            r["message"]["text"]
                .as_str()
                .is_some_and(|m| m.contains("did you mean"))
        );
    }
}
