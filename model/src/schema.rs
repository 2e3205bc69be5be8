//! A JSON Schema (draft 2020-12) of every canonical event payload, from the same types the
//! gateway serialises: `docs/events.schema.json` is this document, checked by a test.

use serde_json::{Map, Value, json};
use utoipa::{PartialSchema, ToSchema};

use crate::events::{Envelope, add_body_schemas, body_schema_names};

/// The document: `$defs` holds every type, and one definition per event name (`session.qr`,
/// ...) that a payload of that event validates against: the envelope and the body.
pub fn events_json_schema() -> Value {
    let mut schemas = vec![(Envelope::name().into_owned(), Envelope::schema())];
    Envelope::schemas(&mut schemas);
    add_body_schemas(&mut schemas);
    let mut defs = Map::new();
    for (name, schema) in schemas {
        defs.insert(name, serde_json::to_value(schema).expect("a schema serialises"));
    }
    for (event, body) in body_schema_names() {
        let both = json!({ "allOf": [{ "$ref": "#/$defs/Envelope" }, { "$ref": format!("#/$defs/{body}") }] });
        defs.insert(event.to_owned(), both);
    }
    // utoipa writes OpenAPI references; inside one JSON Schema document they point at $defs.
    let text = Value::Object(defs).to_string().replace("#/components/schemas/", "#/$defs/");
    let defs: Value = serde_json::from_str(&text).expect("still JSON");
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "wagate canonical events",
        "description": "The payload of the Socket.IO event named N validates against #/$defs/N.",
        "$defs": defs,
    })
}
