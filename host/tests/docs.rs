//! The event reference is written from the shared model's types: the committed JSON Schema is
//! what the types produce, and docs/events.md names every event and every field they carry.

use serde_json::Value;
use wagate_model::events::EVENT_NAMES;
use wagate_model::schema::events_json_schema;

fn doc(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../docs/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap_or_default()
}

#[test]
fn committed_events_schema_is_current() {
    let live = serde_json::to_string_pretty(&events_json_schema()).unwrap();
    assert!(
        doc("events.schema.json").trim() == live.trim(),
        "docs/events.schema.json is stale: run `cargo run -p wagate -- events-schema > docs/events.schema.json`"
    );
}

/// The properties of type `name` in the schema's `$defs`.
fn fields(defs: &Value, name: &str) -> Vec<String> {
    let props = defs[name]["properties"].as_object().unwrap_or_else(|| panic!("no properties for {name}"));
    props.keys().cloned().collect()
}

/// The body type of an event: the second part of its `allOf`.
fn body_type(defs: &Value, event: &str) -> String {
    let reference = defs[event]["allOf"][1]["$ref"].as_str().unwrap();
    reference.trim_start_matches("#/$defs/").to_owned()
}

#[test]
fn events_md_lists_every_event_with_every_field() {
    let md = doc("events.md");
    let schema = events_json_schema();
    let defs = &schema["$defs"];
    let mut missing = Vec::new();
    for event in EVENT_NAMES {
        let Some(row) = md.lines().find(|l| l.starts_with(&format!("| `{event}` |"))) else {
            missing.push(format!("no row for `{event}`"));
            continue;
        };
        for field in fields(defs, &body_type(defs, event)) {
            if !row.contains(&format!("`{field}`")) {
                missing.push(format!("`{event}` row does not name `{field}`"));
            }
        }
    }
    for envelope_field in fields(defs, "Envelope") {
        if !md.contains(&format!("`{envelope_field}`")) {
            missing.push(format!("envelope field `{envelope_field}` is not described"));
        }
    }
    for (record, intro) in [("Message", "Message: "), ("Chat", "Chat: "), ("TenantStats", "| `tenant.stats` |")] {
        let start = md.find(intro).unwrap_or_else(|| panic!("no paragraph starting {intro:?}"));
        let paragraph = &md[start..md[start..].find("\n\n").map_or(md.len(), |e| start + e)];
        for field in fields(defs, record) {
            if !paragraph.contains(&format!("`{field}`")) {
                missing.push(format!("{record} field `{field}` is not described"));
            }
        }
    }
    assert!(missing.is_empty(), "docs/events.md is behind the model:\n{}", missing.join("\n"));
}
