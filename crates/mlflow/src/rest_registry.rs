//! The model registry over REST (docs/mlflow-formats.md §c "Model registry"). Versions travel as
//! JSON strings; an unknown alias is HTTP 400 INVALID_PARAMETER_VALUE, not 404; and
//! `model-versions/search` leaves `aliases` empty, so listings take them from
//! `registered-models/get`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

use super::http::{Call, Retry};
use super::names::{check_alias, check_key, check_model_name, check_run_id};
use super::rest::{Int, KeyValue, RestStore, kv_map};
use super::types::{ModelVersion, stage_or_error};
use creditrisk_base::config::Stage;
use creditrisk_base::error::{Error, Result};

#[derive(Deserialize)]
struct WireVersion {
    name: String,
    version: String,
    creation_timestamp: Option<Int>,
    last_updated_timestamp: Option<Int>,
    #[serde(default)]
    current_stage: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    source: String,
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    tags: Vec<KeyValue>,
    #[serde(default)]
    aliases: Vec<String>,
}

impl WireVersion {
    fn into_version(self, base: &str) -> Result<ModelVersion> {
        let version = self.version.parse::<u64>().map_err(|_| {
            Error::internal(format!(
                "MLflow tracking server {base}: model {} has a version {:?} that is not a number",
                self.name, self.version
            ))
        })?;
        let stage = stage_or_error(
            self.current_stage.as_deref().unwrap_or("None"),
            &format!("model {} version {version} on {base}", self.name),
        )?;
        let mut aliases = self.aliases;
        aliases.sort();
        Ok(ModelVersion {
            name: self.name,
            version,
            run_id: self.run_id.filter(|r| !r.is_empty()),
            source: self.source,
            stage,
            aliases,
            tags: kv_map(self.tags),
            description: self.description.filter(|d| !d.is_empty()),
            creation_timestamp: self.creation_timestamp.map_or(0, |t| t.get()),
            last_updated_timestamp: self.last_updated_timestamp.map_or(0, |t| t.get()),
            status: self.status.unwrap_or_else(|| "READY".into()),
        })
    }
}

#[derive(Deserialize)]
struct VersionReply {
    model_version: WireVersion,
}

#[derive(Deserialize)]
struct SearchReply {
    #[serde(default)]
    model_versions: Vec<WireVersion>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct WireAlias {
    alias: String,
    version: String,
}

#[derive(Deserialize)]
struct WireModel {
    #[serde(default)]
    aliases: Vec<WireAlias>,
}

#[derive(Deserialize)]
struct ModelReply {
    registered_model: WireModel,
}

#[derive(Deserialize)]
struct Empty {}

impl RestStore {
    /// A registry error naming the model (and version or alias) instead of the raw endpoint.
    fn not_found_as_input<T>(&self, call: Call<T>, what: &str) -> Result<T> {
        match call {
            Ok(v) => Ok(v),
            Err(e)
                if matches!(
                    e.code(),
                    Some("RESOURCE_DOES_NOT_EXIST" | "INVALID_PARAMETER_VALUE")
                ) =>
            {
                let detail = match &e {
                    super::http::CallError::Api { message, .. } => message.clone(),
                    _ => String::new(),
                };
                Err(Error::input(format!("{what} on {}: {detail}", self.uri())))
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Create registered model `name` unless it exists.
    pub(crate) async fn create_registered_model(&self, name: &str) -> Result<()> {
        check_model_name(name)?;
        let reply: Call<Empty> = self
            .http
            .post(
                "mlflow/registered-models/create",
                &json!({"name": name}),
                Retry::Always,
            )
            .await;
        match reply {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("RESOURCE_ALREADY_EXISTS") => Ok(()),
            Err(e) => Err(self.fail(e)),
        }
    }

    pub(crate) async fn create_model_version(
        &self,
        name: &str,
        source: &str,
        run_id: Option<&str>,
        description: Option<&str>,
    ) -> Result<ModelVersion> {
        check_model_name(name)?;
        let mut body = json!({"name": name, "source": source});
        if let Some(r) = run_id {
            check_run_id(r)?;
            body["run_id"] = json!(r);
        }
        if let Some(d) = description {
            body["description"] = json!(d);
        }
        let reply = self
            .http
            .post::<VersionReply>(
                "mlflow/model-versions/create",
                &body,
                Retry::UnlessProcessed,
            )
            .await;
        let reply =
            self.not_found_as_input(reply, &format!("registering a version of model {name:?}"))?;
        reply.model_version.into_version(self.uri())
    }

    pub(crate) async fn get_model_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        check_model_name(name)?;
        let v = version.to_string();
        let reply = self
            .http
            .get::<VersionReply>(
                "mlflow/model-versions/get",
                &[("name", name), ("version", &v)],
            )
            .await;
        let reply = self.not_found_as_input(reply, &format!("model {name:?} version {version}"))?;
        reply.model_version.into_version(self.uri())
    }

    /// All versions of `name`, oldest first, with their aliases.
    pub(crate) async fn list_model_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        check_model_name(name)?;
        let aliases = self.model_aliases(name).await?;
        let filter = if name.contains('\'') {
            format!("name=\"{name}\"")
        } else {
            format!("name='{name}'")
        };
        let mut out = vec![];
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("filter", filter.as_str()), ("max_results", "1000")];
            if let Some(t) = &token {
                query.push(("page_token", t.as_str()));
            }
            let reply: SearchReply = self
                .call(self.http.get("mlflow/model-versions/search", &query))
                .await?;
            for wire in reply.model_versions {
                let mut mv = wire.into_version(self.uri())?;
                mv.aliases = aliases.get(&mv.version).cloned().unwrap_or_default();
                out.push(mv);
            }
            match reply.next_page_token.filter(|t| !t.is_empty()) {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        out.sort_by_key(|mv| mv.version);
        Ok(out)
    }

    /// version → its aliases (sorted), from `registered-models/get`.
    async fn model_aliases(&self, name: &str) -> Result<BTreeMap<u64, Vec<String>>> {
        let reply = self
            .http
            .get::<ModelReply>("mlflow/registered-models/get", &[("name", name)])
            .await;
        let reply = self.not_found_as_input(reply, &format!("registered model {name:?}"))?;
        let mut out: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for a in reply.registered_model.aliases {
            if let Ok(v) = a.version.parse::<u64>() {
                out.entry(v).or_default().push(a.alias);
            }
        }
        for list in out.values_mut() {
            list.sort();
        }
        Ok(out)
    }

    pub(crate) async fn transition_stage(
        &self,
        name: &str,
        version: u64,
        stage: Stage,
        archive_existing: bool,
    ) -> Result<ModelVersion> {
        check_model_name(name)?;
        if archive_existing && !matches!(stage, Stage::Staging | Stage::Production) {
            return Err(Error::input(format!(
                "model {name} version {version}: archiving existing versions needs stage Staging or Production, not {}",
                stage.as_str()
            )));
        }
        let body = json!({
            "name": name,
            "version": version.to_string(),
            "stage": stage.as_str(),
            "archive_existing_versions": archive_existing,
        });
        let reply = self
            .http
            .post::<VersionReply>(
                "mlflow/model-versions/transition-stage",
                &body,
                Retry::Always,
            )
            .await;
        self.not_found_as_input(reply, &format!("model {name:?} version {version}"))?;
        // The reply lacks aliases; read the version back whole.
        self.get_model_version(name, version).await
    }

    pub(crate) async fn set_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        check_model_name(name)?;
        check_alias(alias)?;
        let body = json!({"name": name, "alias": alias, "version": version.to_string()});
        let reply = self
            .http
            .post::<Empty>("mlflow/registered-models/alias", &body, Retry::Always)
            .await;
        self.not_found_as_input(reply, &format!("model {name:?} version {version}"))?;
        Ok(())
    }

    pub(crate) async fn get_version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<ModelVersion> {
        check_model_name(name)?;
        check_alias(alias)?;
        let reply = self
            .http
            .get::<VersionReply>(
                "mlflow/registered-models/alias",
                &[("name", name), ("alias", alias)],
            )
            .await;
        let reply =
            self.not_found_as_input(reply, &format!("alias {alias:?} of model {name:?}"))?;
        reply.model_version.into_version(self.uri())
    }

    pub(crate) async fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        check_model_name(name)?;
        check_alias(alias)?;
        let reply = self
            .http
            .delete(
                "mlflow/registered-models/alias",
                &json!({"name": name, "alias": alias}),
            )
            .await;
        self.not_found_as_input(reply, &format!("alias {alias:?} of model {name:?}"))
    }

    pub(crate) async fn set_model_version_tag(
        &self,
        name: &str,
        version: u64,
        key: &str,
        value: &str,
    ) -> Result<()> {
        check_model_name(name)?;
        check_key("registry tag", key)?;
        let body =
            json!({"name": name, "version": version.to_string(), "key": key, "value": value});
        let reply = self
            .http
            .post::<Empty>("mlflow/model-versions/set-tag", &body, Retry::Always)
            .await;
        self.not_found_as_input(reply, &format!("model {name:?} version {version}"))?;
        Ok(())
    }

    pub(crate) async fn set_registered_model_tag(
        &self,
        name: &str,
        key: &str,
        value: &str,
    ) -> Result<()> {
        check_model_name(name)?;
        check_key("registry tag", key)?;
        let body = json!({"name": name, "key": key, "value": value});
        let reply = self
            .http
            .post::<Empty>("mlflow/registered-models/set-tag", &body, Retry::Always)
            .await;
        self.not_found_as_input(reply, &format!("registered model {name:?}"))?;
        Ok(())
    }
}
