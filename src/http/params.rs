//! Query parameters as the proto3 JSON of a request message, read off the API's descriptors.
//!
//! `GET /v1/events?actor=russia&relation=backs&from=2022` must set exactly the fields a
//! `QueryEventsRequest` has, with the types they have: so the mapping is not written by hand
//! for each endpoint but derived from the `FileDescriptorSet` the server already embeds for
//! reflection. A new field in the `.proto` is a new query parameter with no change here.
//!
//! A parameter names a field by its proto name (`date_from`), its JSON name (`dateFrom`), a
//! dotted path into a message field (`filter.actors`, `start.from_position`), or a short form
//! analysts write: the singular of a repeated field (`relation` for `relations`), a date bound
//! without its `date_` (`from`, `to`), and, where an endpoint flattens a sub-message (the
//! subscription filter), that message's fields at the top. Repeated fields take the parameter
//! once per value. Enum values are their proto names (`CERTAINTY_REPORTED`) or the short
//! lower-case form (`reported`). Anything else is refused, naming the parameter.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorSet};
use serde_json::{Map, Value};

/// Why a query string does not make a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query parameter `{parameter}`: {problem}")]
pub struct ParamError {
    /// The parameter as the client spelled it.
    pub parameter: String,
    /// What is wrong with it, and what would be right.
    pub problem: String,
}

/// The request messages and enums of the API, by full name (`eventlog.v1.QueryEventsRequest`).
pub struct Schema {
    messages: HashMap<String, DescriptorProto>,
    /// Each enum's value names, in declaration order.
    enums: HashMap<String, Vec<String>>,
}

impl Schema {
    /// The schema of the embedded descriptor set, decoded once per process.
    pub fn api() -> Arc<Schema> {
        static SCHEMA: OnceLock<Arc<Schema>> = OnceLock::new();
        SCHEMA
            .get_or_init(|| {
                let set = FileDescriptorSet::decode(crate::proto::FILE_DESCRIPTOR_SET)
                    .expect("invariant: the descriptor set embedded at build time decodes");
                Arc::new(Schema::from_set(&set))
            })
            .clone()
    }

    fn from_set(set: &FileDescriptorSet) -> Schema {
        let mut schema = Schema {
            messages: HashMap::new(),
            enums: HashMap::new(),
        };
        for file in &set.file {
            let package = file.package();
            for message in &file.message_type {
                schema.add_message(package, message);
            }
            for enumeration in &file.enum_type {
                schema.enums.insert(
                    format!("{package}.{}", enumeration.name()),
                    enumeration
                        .value
                        .iter()
                        .map(|v| v.name().to_string())
                        .collect(),
                );
            }
        }
        schema
    }

    fn add_message(&mut self, scope: &str, message: &DescriptorProto) {
        let name = format!("{scope}.{}", message.name());
        for nested in &message.nested_type {
            self.add_message(&name, nested);
        }
        for enumeration in &message.enum_type {
            self.enums.insert(
                format!("{name}.{}", enumeration.name()),
                enumeration
                    .value
                    .iter()
                    .map(|v| v.name().to_string())
                    .collect(),
            );
        }
        self.messages.insert(name, message.clone());
    }

    /// The fields of `message` (a full name), for documentation and tests.
    pub fn fields(&self, message: &str) -> Vec<&FieldDescriptorProto> {
        self.messages
            .get(message)
            .map(|m| m.field.iter().collect())
            .unwrap_or_default()
    }

    /// The JSON object of a `message` (full name) that `params` describe. `flatten` names a
    /// message-typed field whose own fields may also be given at the top.
    pub fn request(
        &self,
        message: &str,
        params: &[(String, String)],
        flatten: Option<&str>,
    ) -> Result<Value, ParamError> {
        let mut root = Map::new();
        for (parameter, value) in params {
            let path = self.resolve(message, parameter, flatten)?;
            let (last, parents) = path
                .split_last()
                .expect("invariant: a resolved path names at least one field");
            let mut object = &mut root;
            for field in parents {
                let child = object
                    .entry(field.json_name().to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                object = match child {
                    Value::Object(map) => map,
                    _ => {
                        return Err(ParamError {
                            parameter: parameter.clone(),
                            problem: format!("`{}` is given twice", field.name()),
                        })
                    }
                };
            }
            let converted = self.value(last, parameter, value)?;
            let key = last.json_name().to_string();
            if last.label() == Label::Repeated {
                match object
                    .entry(key)
                    .or_insert_with(|| Value::Array(Vec::new()))
                {
                    Value::Array(values) => values.push(converted),
                    _ => unreachable!("repeated fields are only ever arrays here"),
                }
            } else if object.insert(key, converted).is_some() {
                return Err(ParamError {
                    parameter: parameter.clone(),
                    problem: "given more than once, but it takes one value".into(),
                });
            }
        }
        Ok(Value::Object(root))
    }

    /// The fields a parameter walks through, from the top message down to the one it sets.
    fn resolve(
        &self,
        message: &str,
        parameter: &str,
        flatten: Option<&str>,
    ) -> Result<Vec<&FieldDescriptorProto>, ParamError> {
        if let Some(path) = self.walk(message, parameter) {
            return Ok(path);
        }
        if let Some(inner) = flatten {
            if let Some(path) = self.walk(message, &format!("{inner}.{parameter}")) {
                return Ok(path);
            }
        }
        let mut known: Vec<String> = self
            .fields(message)
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        if let Some(inner) = flatten {
            if let Some(field) = self.field(message, inner) {
                known.extend(
                    self.fields(type_name(field))
                        .iter()
                        .map(|f| f.name().to_string()),
                );
            }
        }
        Err(ParamError {
            parameter: parameter.to_string(),
            problem: format!(
                "not a parameter of this endpoint; it takes {}",
                known.join(", ")
            ),
        })
    }

    fn walk(&self, message: &str, parameter: &str) -> Option<Vec<&FieldDescriptorProto>> {
        let mut path = Vec::new();
        let mut current = message.to_string();
        let segments: Vec<&str> = parameter.split('.').collect();
        for (i, segment) in segments.iter().enumerate() {
            let field = self.field(&current, segment)?;
            let is_last = i + 1 == segments.len();
            if !is_last {
                if field.r#type() != Type::Message || field.label() == Label::Repeated {
                    return None;
                }
                current = type_name(field).to_string();
            }
            path.push(field);
        }
        Some(path)
    }

    /// The field of `message` that `name` means, by any of its accepted spellings.
    fn field(&self, message: &str, name: &str) -> Option<&FieldDescriptorProto> {
        let fields = &self.messages.get(message)?.field;
        let exact = |wanted: &str| {
            fields
                .iter()
                .find(|f| f.name() == wanted || f.json_name() == wanted)
        };
        exact(name)
            .or_else(|| exact(&format!("{name}s")).filter(|f| f.label() == Label::Repeated))
            .or_else(|| exact(&format!("date_{name}")))
    }

    fn value(
        &self,
        field: &FieldDescriptorProto,
        parameter: &str,
        text: &str,
    ) -> Result<Value, ParamError> {
        let refuse = |problem: String| ParamError {
            parameter: parameter.to_string(),
            problem,
        };
        match field.r#type() {
            Type::String => Ok(Value::String(text.to_string())),
            Type::Bool => match text {
                "" | "true" | "1" => Ok(Value::Bool(true)),
                "false" | "0" => Ok(Value::Bool(false)),
                _ => Err(refuse(format!("{text:?} is not true or false"))),
            },
            Type::Uint32 | Type::Fixed32 => text.parse::<u32>().map(Value::from).map_err(|_| {
                refuse(format!(
                    "{text:?} is not a whole number from 0 to {}",
                    u32::MAX
                ))
            }),
            Type::Int32 | Type::Sint32 | Type::Sfixed32 => text
                .parse::<i32>()
                .map(Value::from)
                .map_err(|_| refuse(format!("{text:?} is not a whole number"))),
            // 64-bit integers are strings in proto3 JSON; checked here so the message names
            // the parameter.
            Type::Uint64 | Type::Fixed64 => text
                .parse::<u64>()
                .map(|n| Value::String(n.to_string()))
                .map_err(|_| refuse(format!("{text:?} is not a whole number from 0"))),
            Type::Int64 | Type::Sint64 | Type::Sfixed64 => text
                .parse::<i64>()
                .map(|n| Value::String(n.to_string()))
                .map_err(|_| refuse(format!("{text:?} is not a whole number"))),
            Type::Float | Type::Double => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| refuse(format!("{text:?} is not a number"))),
            Type::Enum => self.enum_value(type_name(field), text).ok_or_else(|| {
                refuse(format!(
                    "{text:?} is not one of {}",
                    self.enum_short_names(type_name(field)).join(", ")
                ))
            }),
            // Timestamps are RFC 3339 text in proto3 JSON; the request's decoding checks them.
            Type::Message if type_name(field) == "google.protobuf.Timestamp" => {
                Ok(Value::String(text.to_string()))
            }
            _ => Err(refuse(format!(
                "`{}` is a message: set its fields as `{parameter}.FIELD`",
                field.name()
            ))),
        }
    }

    fn enum_value(&self, enumeration: &str, text: &str) -> Option<Value> {
        let values = self.enums.get(enumeration)?;
        let prefix = enum_prefix(enumeration);
        let wanted = text.to_ascii_uppercase();
        values
            .iter()
            .find(|v| **v == text || **v == wanted || **v == format!("{prefix}{wanted}"))
            .map(|v| Value::String(v.clone()))
    }

    /// `reported`, `confirmed`, …: the values of an enum without its prefix, in lower case,
    /// leaving out the `…_UNSPECIFIED` zero.
    fn enum_short_names(&self, enumeration: &str) -> Vec<String> {
        let prefix = enum_prefix(enumeration);
        self.enums
            .get(enumeration)
            .map(|values| {
                values
                    .iter()
                    .filter(|v| !v.ends_with("_UNSPECIFIED"))
                    .map(|v| v.strip_prefix(&prefix).unwrap_or(v).to_ascii_lowercase())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A field's message or enum type, without the leading dot.
fn type_name(field: &FieldDescriptorProto) -> &str {
    field.type_name().trim_start_matches('.')
}

/// `CERTAINTY_` for `eventlog.v1.Certainty`, `DATE_MATCH_` for `eventlog.v1.DateMatch`: the
/// prefix the API's enum values carry (the protobuf style guide's).
fn enum_prefix(enumeration: &str) -> String {
    let short = enumeration.rsplit('.').next().unwrap_or(enumeration);
    let mut prefix = String::new();
    for (i, c) in short.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            prefix.push('_');
        }
        prefix.push(c.to_ascii_uppercase());
    }
    prefix.push('_');
    prefix
}

/// The pairs of a query string, decoded (`+` and `%XX`), in order.
pub fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(message: &str, query: &str, flatten: Option<&str>) -> Result<Value, ParamError> {
        Schema::api().request(
            &format!("eventlog.v1.{message}"),
            &pairs(Some(query)),
            flatten,
        )
    }

    #[test]
    fn short_forms_name_the_fields_analysts_mean() {
        let json = request(
            "QueryEventsRequest",
            "actor=Moscow&relation=backs&relation=clashes_with&from=2022&to=2022-12&min_certainty=reported&include_superseded&page_size=5&as_of_position=12",
            None,
        )
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "actor": "Moscow",
                "relations": ["backs", "clashes_with"],
                "dateFrom": "2022",
                "dateTo": "2022-12",
                "minCertainty": "CERTAINTY_REPORTED",
                "includeSuperseded": true,
                "pageSize": 5,
                "asOfPosition": "12",
            })
        );
        let parsed: crate::proto::QueryEventsRequest = serde_json::from_value(json).unwrap();
        assert_eq!(parsed.relations, ["backs", "clashes_with"]);
        assert_eq!(parsed.as_of_position, 12);
    }

    #[test]
    fn a_flattened_message_and_dotted_paths_reach_nested_fields() {
        let json = request(
            "SubscribeRequest",
            "from_position=3&actor=russia&kind=ENTRY_KIND_EVENT&filter.relations=backs",
            Some("filter"),
        )
        .unwrap();
        let parsed: crate::proto::SubscribeRequest = serde_json::from_value(json).unwrap();
        let filter = parsed.filter.unwrap();
        assert_eq!(filter.actors, ["russia"]);
        assert_eq!(filter.relations, ["backs"]);
        assert_eq!(filter.kinds.len(), 1);
        assert_eq!(
            parsed.start,
            Some(crate::proto::subscribe_request::Start::FromPosition(3))
        );
    }

    #[test]
    fn bad_parameters_are_named_with_what_would_do() {
        let unknown = request("QueryEventsRequest", "actr=x", None).unwrap_err();
        assert_eq!(unknown.parameter, "actr");
        assert!(unknown.problem.contains("date_from"), "{}", unknown.problem);
        let number = request("QueryEventsRequest", "page_size=many", None).unwrap_err();
        assert!(
            number.problem.contains("whole number"),
            "{}",
            number.problem
        );
        let certainty = request("QueryEventsRequest", "min_certainty=sure", None).unwrap_err();
        assert!(
            certainty.problem.contains("reported"),
            "{}",
            certainty.problem
        );
        assert!(
            !certainty.problem.contains("unspecified"),
            "{}",
            certainty.problem
        );
        let twice = request("QueryEventsRequest", "actor=a&actor=b", None).unwrap_err();
        assert!(
            twice.problem.contains("more than once"),
            "{}",
            twice.problem
        );
        let message = request("SubscribeRequest", "filter=x", None).unwrap_err();
        assert!(
            message.problem.contains("filter.FIELD"),
            "{}",
            message.problem
        );
    }

    #[test]
    fn every_query_events_field_is_a_parameter() {
        let schema = Schema::api();
        for field in schema.fields("eventlog.v1.QueryEventsRequest") {
            let value = match field.r#type() {
                Type::Bool => "true",
                Type::Enum => "0",
                Type::String => "x",
                _ => "1",
            };
            let query = format!("{}={value}", field.name());
            let enum_value = schema
                .enums
                .get(type_name(field))
                .and_then(|values| values.get(1).cloned());
            let query = match enum_value {
                Some(v) => format!("{}={v}", field.name()),
                None => query,
            };
            let json = request("QueryEventsRequest", &query, None)
                .unwrap_or_else(|e| panic!("{}: {e}", field.name()));
            let parsed: Result<crate::proto::QueryEventsRequest, _> = serde_json::from_value(json);
            assert!(parsed.is_ok(), "{}: {parsed:?}", field.name());
        }
    }
}
