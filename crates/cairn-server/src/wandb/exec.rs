//! A small GraphQL executor: parses a document with `async-graphql-parser`, picks the
//! operation, applies variables (with their defaults), `@include` / `@skip`, fragments (named
//! and inline, with type conditions), aliases and `__typename`, and resolves each selected field
//! on an [`Object`] or projects it out of a JSON value.
//!
//! Why not a schema-first engine: see `docs/wandb.md` ("Why parse-and-resolve"). In short, the
//! W&B SDK sends operations written against a private, moving schema, and a strict engine
//! rejects any input field or selection it does not declare. Here every object type decides
//! what it knows: an unknown field is a GraphQL error naming the type and field (so a new SDK
//! shape fails loudly, never silently), while unknown input fields and undeclared variables
//! are ignored, as the W&B server does.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql_parser::Positioned;
use async_graphql_parser::types::{
    DocumentOperations, ExecutableDocument, Field, FragmentDefinition, OperationDefinition,
    OperationType, Selection, SelectionSet,
};
use async_graphql_value::{ConstValue, Name, Value as GqlValue};
use serde_json::{Map, Value};

/// Arguments of a field, with variables substituted.
pub(crate) type Args = Map<String, Value>;

/// Why a field could not be resolved.
#[derive(Debug, Clone)]
pub(crate) struct FieldError {
    /// Shown to the SDK's user.
    pub(crate) message: String,
    /// The server cannot answer now (storage down, database busy): the whole request answers
    /// `503` so the SDK retries, instead of failing the user's call.
    pub(crate) unavailable: bool,
}

impl FieldError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            unavailable: false,
        }
    }
}

/// What a field resolved to.
#[derive(Clone)]
pub(crate) enum Out {
    /// A JSON value; objects in it are projected by the field's selection.
    Json(Value),
    /// An object whose fields are resolved one by one.
    Object(Arc<dyn Object>),
    /// A list.
    List(Vec<Self>),
}

impl Out {
    pub(crate) fn null() -> Self {
        Self::Json(Value::Null)
    }

    pub(crate) fn object(object: impl Object + 'static) -> Self {
        Self::Object(Arc::new(object))
    }

    /// `Some(object)` as an object, `None` as `null`.
    pub(crate) fn optional<T: Object + 'static>(object: Option<T>) -> Self {
        object.map_or_else(Self::null, Self::object)
    }
}

impl From<Value> for Out {
    fn from(value: Value) -> Self {
        Self::Json(value)
    }
}

/// A GraphQL object type.
#[async_trait::async_trait]
pub(crate) trait Object: Send + Sync {
    /// The type's name, for `__typename` and fragment type conditions.
    fn typename(&self) -> &'static str;

    /// Whether a fragment on `condition` applies (the type itself, or an interface or union it
    /// belongs to).
    fn satisfies(&self, condition: &str) -> bool {
        condition == self.typename()
    }

    /// Resolves field `name`; `Ok(None)` means the type has no such field.
    async fn field(&self, name: &str, args: &Args) -> Result<Option<Out>, FieldError>;
}

/// A GraphQL request body.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Request {
    pub(crate) query: String,
    #[serde(default)]
    pub(crate) variables: Option<Value>,
    #[serde(default)]
    pub(crate) operation_name: Option<String>,
}

/// The outcome of a request: the response body, and whether the server was unavailable.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) body: Value,
    pub(crate) unavailable: bool,
}

fn request_error(message: impl Into<String>) -> Response {
    Response {
        body: serde_json::json!({ "errors": [{ "message": message.into() }] }),
        unavailable: false,
    }
}

/// The roots the executor needs: one object per operation type.
pub(crate) trait Roots: Send + Sync {
    fn query(&self) -> Arc<dyn Object>;
    fn mutation(&self) -> Arc<dyn Object>;
}

/// Executes one request.
pub(crate) async fn execute(roots: &dyn Roots, request: Request) -> Response {
    let document = match async_graphql_parser::parse_query(&request.query) {
        Ok(document) => document,
        Err(error) => {
            return request_error(format!("the GraphQL document does not parse: {error}"));
        }
    };
    let name = request
        .operation_name
        .as_deref()
        .filter(|name| !name.is_empty());
    let operation = match pick_operation(&document, name) {
        Ok(operation) => operation,
        Err(message) => return request_error(message),
    };
    let provided = match request.variables {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(_) => return request_error("`variables` must be a JSON object"),
    };
    let mut variables = Map::new();
    for definition in &operation.variable_definitions {
        let name = definition.node.name.node.as_str();
        let value = match provided.get(name) {
            Some(value) => value.clone(),
            None => match &definition.node.default_value {
                Some(default) => match default.node.clone().into_json() {
                    Ok(value) => value,
                    Err(error) => {
                        return request_error(format!(
                            "the default of variable `${name}` is not valid: {error}"
                        ));
                    }
                },
                None => Value::Null,
            },
        };
        variables.insert(name.to_owned(), value);
    }
    let execution = Execution {
        fragments: &document.fragments,
        variables: &variables,
    };
    let (root, serial) = match operation.ty {
        OperationType::Query => (roots.query(), false),
        OperationType::Mutation => (roots.mutation(), true),
        OperationType::Subscription => {
            return request_error("subscriptions are not supported by this server");
        }
    };
    let mut errors = Vec::new();
    let data = execution
        .object(
            root.as_ref(),
            &[&operation.selection_set.node],
            &mut Path::root(),
            &mut errors,
            serial,
        )
        .await;
    let unavailable = errors
        .iter()
        .any(|(error, _): &(FieldError, Vec<Value>)| error.unavailable);
    let mut body = Map::new();
    body.insert("data".to_owned(), data);
    if !errors.is_empty() {
        let errors: Vec<Value> = errors
            .into_iter()
            .map(|(error, path)| serde_json::json!({ "message": error.message, "path": path }))
            .collect();
        body.insert("errors".to_owned(), Value::Array(errors));
    }
    Response {
        body: Value::Object(body),
        unavailable,
    }
}

fn pick_operation<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Result<&'a OperationDefinition, String> {
    match (&document.operations, name) {
        (DocumentOperations::Single(operation), _) => Ok(&operation.node),
        (DocumentOperations::Multiple(operations), Some(name)) => operations
            .get(name)
            .map(|operation| &operation.node)
            .ok_or_else(|| format!("the document has no operation named `{name}`")),
        (DocumentOperations::Multiple(operations), None) => {
            let mut all = operations.values();
            match (all.next(), all.next()) {
                (Some(operation), None) => Ok(&operation.node),
                _ => Err(
                    "the document has several operations; name one in `operationName`".to_owned(),
                ),
            }
        }
    }
}

/// A response path, for error messages.
struct Path(Vec<Value>);

impl Path {
    fn root() -> Self {
        Self(Vec::new())
    }
}

struct Execution<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    variables: &'a Map<String, Value>,
}

/// One response key and the fields merged under it.
struct Grouped<'a> {
    key: &'a str,
    fields: Vec<&'a Field>,
}

impl<'a> Execution<'a> {
    /// Substitutes variables in a value.
    fn constant(&self, value: &GqlValue) -> Value {
        let resolved = value.clone().into_const_with(|name: Name| {
            Ok::<_, std::convert::Infallible>(
                self.variables
                    .get(name.as_str())
                    .cloned()
                    .and_then(|value| ConstValue::from_json(value).ok())
                    .unwrap_or(ConstValue::Null),
            )
        });
        match resolved {
            Ok(value) => value.into_json().unwrap_or(Value::Null),
            Err(never) => match never {},
        }
    }

    /// Whether `@include` / `@skip` keep a selection.
    fn included(&self, directives: &[Positioned<async_graphql_parser::types::Directive>]) -> bool {
        directives.iter().all(|directive| {
            let name = directive.node.name.node.as_str();
            let condition = directive
                .node
                .arguments
                .iter()
                .find(|(argument, _)| argument.node.as_str() == "if")
                .map(|(_, value)| self.constant(&value.node))
                .and_then(|value| value.as_bool());
            match name {
                "include" => condition.unwrap_or(true),
                "skip" => !condition.unwrap_or(false),
                _ => true,
            }
        })
    }

    /// The selected fields, grouped by response key in document order, for an object that
    /// satisfies type conditions per `applies`.
    fn collect(
        &self,
        sets: &[&'a SelectionSet],
        applies: &dyn Fn(&str) -> bool,
    ) -> Vec<Grouped<'a>> {
        let mut grouped: Vec<Grouped<'a>> = Vec::new();
        let mut visited: Vec<&str> = Vec::new();
        for set in sets {
            self.collect_into(set, applies, &mut grouped, &mut visited);
        }
        grouped
    }

    fn collect_into(
        &self,
        set: &'a SelectionSet,
        applies: &dyn Fn(&str) -> bool,
        grouped: &mut Vec<Grouped<'a>>,
        visited: &mut Vec<&'a str>,
    ) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    if !self.included(&field.node.directives) {
                        continue;
                    }
                    let key = field
                        .node
                        .alias
                        .as_ref()
                        .map_or(field.node.name.node.as_str(), |alias| alias.node.as_str());
                    match grouped.iter_mut().find(|group| group.key == key) {
                        Some(group) => group.fields.push(&field.node),
                        None => grouped.push(Grouped {
                            key,
                            fields: vec![&field.node],
                        }),
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if !self.included(&spread.node.directives) {
                        continue;
                    }
                    let name = spread.node.fragment_name.node.as_str();
                    if visited.contains(&name) {
                        continue;
                    }
                    let Some(fragment) = self.fragments.get(name) else {
                        continue;
                    };
                    if !applies(fragment.node.type_condition.node.on.node.as_str()) {
                        continue;
                    }
                    visited.push(name);
                    self.collect_into(&fragment.node.selection_set.node, applies, grouped, visited);
                }
                Selection::InlineFragment(inline) => {
                    if !self.included(&inline.node.directives) {
                        continue;
                    }
                    if let Some(condition) = &inline.node.type_condition
                        && !applies(condition.node.on.node.as_str())
                    {
                        continue;
                    }
                    self.collect_into(&inline.node.selection_set.node, applies, grouped, visited);
                }
            }
        }
    }

    /// Resolves the selections on an object.
    fn object<'b>(
        &'b self,
        object: &'b dyn Object,
        sets: &'b [&'a SelectionSet],
        path: &'b mut Path,
        errors: &'b mut Vec<(FieldError, Vec<Value>)>,
        _serial: bool,
    ) -> futures_util::future::BoxFuture<'b, Value> {
        Box::pin(async move {
            let grouped = self.collect(sets, &|condition| object.satisfies(condition));
            let mut out = Map::new();
            for group in grouped {
                let field = group.fields[0];
                let name = field.name.node.as_str();
                if name == "__typename" {
                    out.insert(
                        group.key.to_owned(),
                        Value::String(object.typename().to_owned()),
                    );
                    continue;
                }
                let mut args = Args::new();
                for (argument, value) in &field.arguments {
                    args.insert(argument.node.to_string(), self.constant(&value.node));
                }
                path.0.push(Value::String(group.key.to_owned()));
                let value = match object.field(name, &args).await {
                    Ok(Some(resolved)) => {
                        let sub: Vec<&'a SelectionSet> = group
                            .fields
                            .iter()
                            .map(|field| &field.selection_set.node)
                            .collect();
                        self.complete(resolved, &sub, path, errors).await
                    }
                    Ok(None) => {
                        errors.push((
                            FieldError::new(format!(
                                "Cannot query field \"{name}\" on type \"{}\".",
                                object.typename()
                            )),
                            path.0.clone(),
                        ));
                        Value::Null
                    }
                    Err(error) => {
                        errors.push((error, path.0.clone()));
                        Value::Null
                    }
                };
                path.0.pop();
                out.insert(group.key.to_owned(), value);
            }
            Value::Object(out)
        })
    }

    /// Completes a resolved value with the field's selections.
    fn complete<'b>(
        &'b self,
        resolved: Out,
        sets: &'b [&'a SelectionSet],
        path: &'b mut Path,
        errors: &'b mut Vec<(FieldError, Vec<Value>)>,
    ) -> futures_util::future::BoxFuture<'b, Value> {
        Box::pin(async move {
            let selects = sets.iter().any(|set| !set.items.is_empty());
            match resolved {
                Out::Json(value) if !selects => value,
                Out::Json(value) => self.project(value, sets, path, errors),
                Out::Object(object) => {
                    self.object(object.as_ref(), sets, path, errors, false)
                        .await
                }
                Out::List(items) => {
                    let mut out = Vec::with_capacity(items.len());
                    for (index, item) in items.into_iter().enumerate() {
                        path.0.push(Value::from(index));
                        out.push(self.complete(item, sets, path, errors).await);
                        path.0.pop();
                    }
                    Value::Array(out)
                }
            }
        })
    }

    /// Projects a JSON value by selections: objects keep the selected keys (under their
    /// response keys), lists are projected item by item. An object's `__typename` key decides
    /// type conditions and answers `__typename`.
    fn project(
        &self,
        value: Value,
        sets: &[&'a SelectionSet],
        path: &mut Path,
        errors: &mut Vec<(FieldError, Vec<Value>)>,
    ) -> Value {
        match value {
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(index, item)| {
                        path.0.push(Value::from(index));
                        let projected = self.project(item, sets, path, errors);
                        path.0.pop();
                        projected
                    })
                    .collect(),
            ),
            Value::Object(map) => {
                let typename = map
                    .get("__typename")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                let kinds = map
                    .get("__kinds")
                    .and_then(Value::as_array)
                    .map(|kinds| {
                        kinds
                            .iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                let applies = |condition: &str| match &typename {
                    Some(name) => name == condition || kinds.iter().any(|kind| kind == condition),
                    None => true,
                };
                let grouped = self.collect(sets, &applies);
                let mut out = Map::new();
                for group in grouped {
                    let field = group.fields[0];
                    let name = field.name.node.as_str();
                    path.0.push(Value::String(group.key.to_owned()));
                    let value = match map.get(name) {
                        Some(found) => {
                            let sub: Vec<&'a SelectionSet> = group
                                .fields
                                .iter()
                                .map(|field| &field.selection_set.node)
                                .collect();
                            if sub.iter().any(|set| !set.items.is_empty()) {
                                self.project(found.clone(), &sub, path, errors)
                            } else {
                                found.clone()
                            }
                        }
                        None => {
                            errors.push((
                                FieldError::new(format!(
                                    "Cannot query field \"{name}\" on type \"{}\".",
                                    typename.as_deref().unwrap_or("Object")
                                )),
                                path.0.clone(),
                            ));
                            Value::Null
                        }
                    };
                    path.0.pop();
                    out.insert(group.key.to_owned(), value);
                }
                Value::Object(out)
            }
            scalar => scalar,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Root;

    #[async_trait::async_trait]
    impl Object for Root {
        fn typename(&self) -> &'static str {
            "Query"
        }

        async fn field(&self, name: &str, args: &Args) -> Result<Option<Out>, FieldError> {
            Ok(match name {
                "echo" => Some(Out::Json(args.get("value").cloned().unwrap_or(Value::Null))),
                "thing" => Some(Out::Json(serde_json::json!({
                    "__typename": "ArtifactSequence",
                    "__kinds": ["ArtifactCollection"],
                    "name": "ds",
                    "project": { "__typename": "Project", "name": "p", "id": "1" },
                    "items": [{ "a": 1, "b": 2 }, { "a": 3, "b": 4 }],
                }))),
                "fails" => return Err(FieldError::new("refused in words")),
                _ => None,
            })
        }
    }

    struct Both;

    impl Roots for Both {
        fn query(&self) -> Arc<dyn Object> {
            Arc::new(Root)
        }
        fn mutation(&self) -> Arc<dyn Object> {
            Arc::new(Root)
        }
    }

    async fn run(query: &str, variables: Value) -> Value {
        execute(
            &Both,
            Request {
                query: query.to_owned(),
                variables: Some(variables),
                operation_name: None,
            },
        )
        .await
        .body
    }

    #[tokio::test]
    async fn variables_defaults_aliases_and_directives() {
        let body = run(
            "query Q($v: Int = 7, $yes: Boolean = true, $no: Boolean!) {
                first: echo(value: $v)
                second: echo(value: \"s\") @include(if: $no)
                third: echo(value: 3) @skip(if: $no)
                fourth: echo(value: {k: [$v]}) @include(if: $yes)
                __typename
            }",
            serde_json::json!({ "no": false, "extra": 1 }),
        )
        .await;
        assert_eq!(
            body,
            serde_json::json!({ "data": {
                "first": 7, "third": 3, "fourth": { "k": [7] }, "__typename": "Query"
            }})
        );
    }

    #[tokio::test]
    async fn fragments_type_conditions_and_projection() {
        let body = run(
            "query { thing { ...Info ... on ArtifactPortfolio { name } items { a } } }
             fragment Info on ArtifactCollection { __typename name project { ...P } }
             fragment P on Project { id n: name }",
            Value::Null,
        )
        .await;
        assert_eq!(
            body,
            serde_json::json!({ "data": { "thing": {
                "__typename": "ArtifactSequence",
                "name": "ds",
                "project": { "id": "1", "n": "p" },
                "items": [{ "a": 1 }, { "a": 3 }],
            }}})
        );
    }

    #[tokio::test]
    async fn unknown_fields_and_refusals_are_errors_with_paths() {
        let body = run("{ fails thing { nope } missing }", Value::Null).await;
        assert_eq!(body["data"]["fails"], Value::Null);
        let errors = body["errors"].as_array().cloned().unwrap_or_default();
        let messages: Vec<&str> = errors
            .iter()
            .filter_map(|e| e["message"].as_str())
            .collect();
        assert_eq!(
            messages,
            [
                "refused in words",
                "Cannot query field \"nope\" on type \"ArtifactSequence\".",
                "Cannot query field \"missing\" on type \"Query\"."
            ]
        );
        assert_eq!(errors[1]["path"], serde_json::json!(["thing", "nope"]));
    }

    #[tokio::test]
    async fn bad_documents_are_request_errors() {
        let body = run("query {", Value::Null).await;
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("does not parse")
        );
        let body = run("query A { echo } query B { echo }", Value::Null).await;
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("operationName")
        );
    }
}
