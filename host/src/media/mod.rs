//! Media files of messages: the rules a file must meet to be sent (`kinds`), and where files
//! are kept. Files live in an object store (`object_store`): the local filesystem under the
//! data directory by default, or an S3-compatible bucket (`media.store = "s3"`), one object per
//! message at `t/<tenant>/s/<session>/<message>`.
//! The message row keeps what is known of the file (type, size, SHA-256); the store keeps
//! the bytes, for the outbox to send and for `GET .../messages/{id}/media` to serve.

pub mod fetch;
pub mod kinds;
pub mod link_preview;
pub mod links;
pub mod retention;

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use thiserror::Error;

use crate::model::SessionKey;

#[derive(Debug, Error)]
#[error("media store: {0}")]
pub struct MediaStoreError(#[from] object_store::Error);

#[derive(Clone)]
pub struct MediaStore {
    objects: Arc<dyn ObjectStore>,
    /// Whether every node of a cluster reads the same files (a bucket, not one node's disk).
    shared: bool,
}

/// Ids are checked to be path-safe before they get here; the store's own path type escapes
/// anything else.
fn session_prefix(key: &SessionKey) -> Path {
    Path::from_iter(["t", key.tenant.as_str(), "s", key.session.as_str()])
}

fn object(key: &SessionKey, message_id: &str) -> Path {
    session_prefix(key).join(message_id)
}

impl MediaStore {
    /// Files under `dir` (created if missing, private to the gateway like the data directory).
    pub fn local(dir: &std::path::Path) -> Result<Self, MediaStoreError> {
        std::fs::create_dir_all(dir).map_err(|e| object_store::Error::Generic { store: "local", source: e.into() })?;
        Ok(Self { objects: Arc::new(LocalFileSystem::new_with_prefix(dir)?), shared: false })
    }

    /// Files in an S3 bucket (`media.s3`), under the same keys as on the filesystem.
    pub fn s3(cfg: &crate::config::S3Config) -> Result<Self, MediaStoreError> {
        use object_store::aws::AmazonS3Builder;
        // The S3 client's HTTPS goes through rustls; the gateway uses ring as its provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = AmazonS3Builder::from_env().with_bucket_name(&cfg.bucket).with_allow_http(cfg.allow_http);
        if let Some(region) = &cfg.region {
            b = b.with_region(region);
        }
        if let Some(endpoint) = &cfg.endpoint {
            b = b.with_endpoint(endpoint).with_virtual_hosted_style_request(false);
        }
        if let (Some(key), Some(secret)) = (&cfg.access_key_id, &cfg.secret_access_key) {
            b = b.with_access_key_id(key).with_secret_access_key(secret);
        }
        Ok(Self { objects: Arc::new(b.build()?), shared: true })
    }

    /// Whether a file put here by one node can be read by the others.
    pub fn shared(&self) -> bool {
        self.shared
    }

    /// The store the configuration names.
    pub fn from_config(config: &crate::config::Config) -> Result<Self, MediaStoreError> {
        match config.media.store {
            crate::config::MediaStoreKind::Fs => Self::local(&config.media_dir()),
            crate::config::MediaStoreKind::S3 => Self::s3(&config.media.s3),
        }
    }

    pub async fn put(&self, key: &SessionKey, message_id: &str, bytes: Bytes) -> Result<(), MediaStoreError> {
        self.objects.put(&object(key, message_id), PutPayload::from(bytes)).await?;
        Ok(())
    }

    /// The file of a message; `None` when none is stored.
    pub async fn get(&self, key: &SessionKey, message_id: &str) -> Result<Option<Bytes>, MediaStoreError> {
        match self.objects.get(&object(key, message_id)).await {
            Ok(found) => Ok(Some(found.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete(&self, key: &SessionKey, message_id: &str) -> Result<(), MediaStoreError> {
        match self.objects.delete(&object(key, message_id)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every file of a deleted session (or, with `session` empty, of a deleted tenant).
    pub async fn delete_all(&self, tenant: &str, session: Option<&str>) -> Result<(), MediaStoreError> {
        let prefix = match session {
            Some(s) => session_prefix(&SessionKey::new(tenant, s)),
            None => Path::from_iter(["t", tenant]),
        };
        let paths = self.objects.list(Some(&prefix)).map(|meta| meta.map(|m| m.location)).boxed();
        let mut deleted = self.objects.delete_stream(paths);
        while let Some(result) = deleted.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_are_kept_per_session_and_go_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = MediaStore::local(dir.path()).unwrap();
        let (a, b) = (SessionKey::new("acme", "s1"), SessionKey::new("acme", "s2"));
        store.put(&a, "m1", Bytes::from_static(b"one")).await.unwrap();
        store.put(&b, "m2", Bytes::from_static(b"two")).await.unwrap();
        assert_eq!(store.get(&a, "m1").await.unwrap().as_deref(), Some(&b"one"[..]));
        assert_eq!(store.get(&a, "m2").await.unwrap(), None, "another session's file is not this one's");
        assert!(dir.path().join("t/acme/s/s1/m1").is_file());
        store.delete_all("acme", Some("s1")).await.unwrap();
        assert_eq!(store.get(&a, "m1").await.unwrap(), None);
        assert!(store.get(&b, "m2").await.unwrap().is_some());
        store.delete_all("acme", None).await.unwrap();
        assert_eq!(store.get(&b, "m2").await.unwrap(), None);
    }
}
