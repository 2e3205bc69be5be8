//! The library's device state in the gateway's database, for PostgreSQL deployments: the
//! linked device's keys, its Signal sessions and keys, app-state sync and the protocol caches,
//! as items of `store::device_items`, so that whichever node takes a session over finds its
//! device there. Every write carries the session's lease in cluster mode (see that module).
//!
//! Each kind of item has a space; `at` and `other_at` mean, per space:
//!
//! | space | item | value | at | other_at |
//! |---|---|---|---|---|
//! | `device` | (one) | the device, JSON | | |
//! | `identity`, `session`, `sender-key` | Signal address | record | | |
//! | `prekey` | id, 10 digits | record | 1 once uploaded | |
//! | `signed-prekey` | id, 10 digits | record | | |
//! | `sync-key` | key id, hex | key, JSON | | |
//! | `app-state-version` | collection | hash state, JSON | | |
//! | `mac:<collection>` | index MAC, hex | value MAC | version | |
//! | `sender-key-devices:<group>` | device JID | 1 has the key, 0 needs it | | |
//! | `lid` | LID | mapping, JSON | updated | |
//! | `pn` | phone number | its most recent LID | updated | |
//! | `base-key` | address, message id | base key | | |
//! | `device-list` | user | record, JSON | | |
//! | `group-metadata` | group JID | the library's blob | | |
//! | `tc-token` | JID | token | token time | sender time |
//! | `sent-message` | chat, message id | payload | stored | |
//! | `pending-inbound` | chat, sender, id | message | stored | |
//! | `msg-secret` | chat, sender, message id | secret | deadline (0: never) | message time |
//!
//! Typed values are JSON: its fields are named, so a library update that adds one (with a
//! default) still reads what an older one wrote.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use whatsapp_rust::wacore::appstate::hash::HashState;
use whatsapp_rust::wacore::appstate::processor::AppStateMutationMAC;
use whatsapp_rust::wacore::client_profile::ClientProfile;
use whatsapp_rust::wacore::store::Device;
use whatsapp_rust::wacore::store::device::DEVICE_PROPS;
use whatsapp_rust::wacore::store::error::{Result, StoreError as WaError};
use whatsapp_rust::wacore::store::traits::{
    AppStateSyncKey, AppSyncStore, DeviceListRecord, DeviceStore, LidPnMappingEntry, MsgSecretEntry, MsgSecretStore,
    PendingInboundKey, PendingInboundRow, ProtocolStore, SignalStore, TcTokenEntry,
};

use crate::model::SessionKey;
use crate::store::device_items::{DeviceItems, Expired, Item, OnConflict};
use crate::store::{Store, StoreError};

const DEVICE: &str = "device";
const IDENTITY: &str = "identity";
const SESSION: &str = "session";
const SENDER_KEY: &str = "sender-key";
const PREKEY: &str = "prekey";
const SIGNED_PREKEY: &str = "signed-prekey";
const SYNC_KEY: &str = "sync-key";
const VERSION: &str = "app-state-version";
const MACS: &str = "mac:";
const SENDER_KEY_DEVICES: &str = "sender-key-devices:";
const LID: &str = "lid";
const PN: &str = "pn";
const BASE_KEY: &str = "base-key";
const DEVICE_LIST: &str = "device-list";
const GROUP: &str = "group-metadata";
const TC_TOKEN: &str = "tc-token";
const SENT: &str = "sent-message";
const PENDING: &str = "pending-inbound";
const SECRET: &str = "msg-secret";

/// The one device of a session (the library numbers devices within a store; ours holds one).
const DEVICE_ID: i32 = 1;

/// Joins the parts of a composite item name: JIDs and message ids never hold a control
/// character.
const SEP: char = '\u{1f}';

/// One session's device in the database.
pub struct DatabaseDevice {
    items: DeviceItems,
}

impl DatabaseDevice {
    /// The device of session `key`, written through `store` (the session's, fenced in cluster
    /// mode).
    pub fn new(store: &Store, key: SessionKey) -> Self {
        Self { items: DeviceItems::new(store, key) }
    }
}

fn db(e: StoreError) -> WaError {
    WaError::Database(Box::new(e))
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| WaError::Serialization(Box::new(e)))
}

fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| WaError::Serialization(Box::new(e)))
}

fn id(n: u32) -> String {
    format!("{n:010}")
}

fn parse_id(item: &str) -> Result<u32> {
    item.parse().map_err(|_| WaError::Validation(format!("stored key id '{item}' is not a number")))
}

fn joined(parts: &[&str]) -> String {
    parts.join(&SEP.to_string())
}

fn item(name: impl Into<String>, value: impl Into<Vec<u8>>) -> Item {
    Item { item: name.into(), value: value.into(), at: 0, other_at: None }
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

fn key32(value: Vec<u8>) -> Result<[u8; 32]> {
    value.try_into().map_err(|v: Vec<u8>| WaError::Validation(format!("identity key of {} bytes", v.len())))
}

impl DatabaseDevice {
    async fn get(&self, space: &str, name: &str) -> Result<Option<Item>> {
        self.items.get(space, name).await.map_err(db)
    }

    async fn value(&self, space: &str, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.get(space, name).await?.map(|i| i.value))
    }

    async fn put(&self, space: &str, items: &[Item]) -> Result<()> {
        self.items.put(space, items, OnConflict::Replace).await.map_err(db)
    }

    async fn put_merged(&self, space: &str, items: &[Item], on_conflict: OnConflict) -> Result<()> {
        self.items.put(space, items, on_conflict).await.map_err(db)
    }

    async fn delete(&self, space: &str, names: &[&str]) -> Result<()> {
        self.items.delete(space, Some(names)).await.map_err(db)
    }

    async fn clear(&self, space: &str) -> Result<()> {
        self.items.delete(space, None).await.map_err(db)
    }

    async fn expire(&self, space: &str, expired: Expired) -> Result<u32> {
        let n = self.items.delete_expired(space, expired).await.map_err(db)?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }
}

#[async_trait]
impl SignalStore for DatabaseDevice {
    async fn put_identity(&self, address: &str, key: [u8; 32]) -> Result<()> {
        self.put(IDENTITY, &[item(address, key)]).await
    }

    async fn put_identities_batch(&self, identities: &[(Arc<str>, [u8; 32])]) -> Result<()> {
        let items: Vec<Item> = identities.iter().map(|(a, k)| item(&**a, *k)).collect();
        self.put(IDENTITY, &items).await
    }

    async fn load_identity(&self, address: &str) -> Result<Option<[u8; 32]>> {
        self.value(IDENTITY, address).await?.map(key32).transpose()
    }

    async fn delete_identity(&self, address: &str) -> Result<()> {
        self.delete(IDENTITY, &[address]).await
    }

    async fn get_session(&self, address: &str) -> Result<Option<Bytes>> {
        Ok(self.value(SESSION, address).await?.map(Bytes::from))
    }

    async fn put_session(&self, address: &str, session: &[u8]) -> Result<()> {
        self.put(SESSION, &[item(address, session)]).await
    }

    async fn put_sessions_batch(&self, sessions: &[(Arc<str>, Bytes)]) -> Result<()> {
        let items: Vec<Item> = sessions.iter().map(|(a, s)| item(&**a, s.to_vec())).collect();
        self.put(SESSION, &items).await
    }

    async fn delete_session(&self, address: &str) -> Result<()> {
        self.delete(SESSION, &[address]).await
    }

    async fn store_prekey(&self, prekey: u32, record: &[u8], uploaded: bool) -> Result<()> {
        self.put(PREKEY, &[Item { at: i64::from(uploaded), ..item(id(prekey), record) }]).await
    }

    async fn store_prekeys_batch(&self, keys: &[(u32, Bytes)], uploaded: bool) -> Result<()> {
        let items: Vec<Item> =
            keys.iter().map(|(k, r)| Item { at: i64::from(uploaded), ..item(id(*k), r.to_vec()) }).collect();
        self.put(PREKEY, &items).await
    }

    async fn load_prekey(&self, prekey: u32) -> Result<Option<Bytes>> {
        Ok(self.value(PREKEY, &id(prekey)).await?.map(Bytes::from))
    }

    async fn mark_prekeys_uploaded(&self, ids: &[u32]) -> Result<()> {
        let names: Vec<String> = ids.iter().map(|k| id(*k)).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        self.items.set_at(PREKEY, &names, 1).await.map_err(db)
    }

    async fn remove_prekey(&self, prekey: u32) -> Result<()> {
        self.delete(PREKEY, &[&id(prekey)]).await
    }

    async fn get_max_prekey_id(&self) -> Result<u32> {
        match self.items.last_name(PREKEY).await.map_err(db)? {
            Some(last) => parse_id(&last),
            None => Ok(0),
        }
    }

    async fn store_signed_prekey(&self, key: u32, record: &[u8]) -> Result<()> {
        self.put(SIGNED_PREKEY, &[item(id(key), record)]).await
    }

    async fn load_signed_prekey(&self, key: u32) -> Result<Option<Vec<u8>>> {
        self.value(SIGNED_PREKEY, &id(key)).await
    }

    async fn load_all_signed_prekeys(&self) -> Result<Vec<(u32, Vec<u8>)>> {
        let items = self.items.list(SIGNED_PREKEY).await.map_err(db)?;
        items.into_iter().map(|i| Ok((parse_id(&i.item)?, i.value))).collect()
    }

    async fn remove_signed_prekey(&self, key: u32) -> Result<()> {
        self.delete(SIGNED_PREKEY, &[&id(key)]).await
    }

    async fn put_sender_key(&self, address: &str, record: &[u8]) -> Result<()> {
        self.put(SENDER_KEY, &[item(address, record)]).await
    }

    async fn put_sender_keys_batch(&self, sender_keys: &[(Arc<str>, Bytes)]) -> Result<()> {
        let items: Vec<Item> = sender_keys.iter().map(|(a, r)| item(&**a, r.to_vec())).collect();
        self.put(SENDER_KEY, &items).await
    }

    async fn get_sender_key(&self, address: &str) -> Result<Option<Vec<u8>>> {
        self.value(SENDER_KEY, address).await
    }

    async fn delete_sender_key(&self, address: &str) -> Result<()> {
        self.delete(SENDER_KEY, &[address]).await
    }
}

#[async_trait]
impl AppSyncStore for DatabaseDevice {
    async fn get_sync_key(&self, key_id: &[u8]) -> Result<Option<AppStateSyncKey>> {
        // An unreadable key reads as absent, as in the library's own store: the key is asked
        // for again rather than the sync failing for good.
        Ok(self.value(SYNC_KEY, &hex::encode(key_id)).await?.and_then(|v| from_json(&v).ok()))
    }

    async fn set_sync_key(&self, key_id: &[u8], key: AppStateSyncKey) -> Result<()> {
        self.put(SYNC_KEY, &[item(hex::encode(key_id), to_json(&key)?)]).await
    }

    async fn get_version(&self, name: &str) -> Result<HashState> {
        // Unreadable or missing: the collection syncs again from version 0.
        Ok(self.value(VERSION, name).await?.and_then(|v| from_json(&v).ok()).unwrap_or_default())
    }

    async fn set_version(&self, name: &str, state: HashState) -> Result<()> {
        self.put(VERSION, &[item(name, to_json(&state)?)]).await
    }

    async fn put_mutation_macs(&self, name: &str, version: u64, mutations: &[AppStateMutationMAC]) -> Result<()> {
        let at = i64::try_from(version).unwrap_or(i64::MAX);
        let items: Vec<Item> =
            mutations.iter().map(|m| Item { at, ..item(hex::encode(&m.index_mac), m.value_mac.clone()) }).collect();
        self.put(&format!("{MACS}{name}"), &items).await
    }

    async fn get_mutation_mac(&self, name: &str, index_mac: &[u8]) -> Result<Option<Vec<u8>>> {
        self.value(&format!("{MACS}{name}"), &hex::encode(index_mac)).await
    }

    async fn get_mutation_macs(&self, name: &str, index_macs: &[[u8; 32]]) -> Result<HashMap<[u8; 32], Vec<u8>>> {
        let space = format!("{MACS}{name}");
        let mut out = HashMap::with_capacity(index_macs.len());
        for index_mac in index_macs {
            if let Some(mac) = self.value(&space, &hex::encode(index_mac)).await? {
                out.insert(*index_mac, mac);
            }
        }
        Ok(out)
    }

    async fn delete_mutation_macs(&self, name: &str, index_macs: &[Vec<u8>]) -> Result<()> {
        let names: Vec<String> = index_macs.iter().map(hex::encode).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        self.delete(&format!("{MACS}{name}"), &names).await
    }

    async fn clear_mutation_macs(&self, name: &str) -> Result<()> {
        self.clear(&format!("{MACS}{name}")).await
    }

    async fn get_latest_sync_key_id(&self) -> Result<Option<Vec<u8>>> {
        // The greatest key id whose key still reads, as the library's own store answers.
        let keys = self.items.list(SYNC_KEY).await.map_err(db)?;
        Ok(keys
            .into_iter()
            .rev()
            .find(|k| from_json::<AppStateSyncKey>(&k.value).is_ok())
            .and_then(|k| hex::decode(&k.item).ok()))
    }
}

/// A mapping under its LID, and its LID under the phone number.
fn lid_items(entries: &[LidPnMappingEntry]) -> Result<(Vec<Item>, Vec<Item>)> {
    let mut by_lid = Vec::with_capacity(entries.len());
    let mut by_pn = Vec::with_capacity(entries.len());
    for e in entries {
        by_lid.push(Item { at: e.updated_at, ..item(&e.lid, to_json(e)?) });
        by_pn.push(Item { at: e.updated_at, ..item(&e.phone_number, e.lid.as_bytes()) });
    }
    Ok((by_lid, by_pn))
}

fn tc_entry(i: Item) -> TcTokenEntry {
    TcTokenEntry { token: i.value, token_timestamp: i.at, sender_timestamp: i.other_at }
}

#[async_trait]
impl ProtocolStore for DatabaseDevice {
    async fn get_sender_key_devices(&self, group_jid: &str) -> Result<Vec<(String, bool)>> {
        let items = self.items.list(&format!("{SENDER_KEY_DEVICES}{group_jid}")).await.map_err(db)?;
        Ok(items.into_iter().map(|i| (i.item, i.value == [1])).collect())
    }

    async fn set_sender_key_status(&self, group_jid: &str, entries: &[(&str, bool)]) -> Result<()> {
        let items: Vec<Item> = entries.iter().map(|(d, has)| item(*d, vec![u8::from(*has)])).collect();
        self.put(&format!("{SENDER_KEY_DEVICES}{group_jid}"), &items).await
    }

    async fn clear_sender_key_devices(&self, group_jid: &str) -> Result<()> {
        self.clear(&format!("{SENDER_KEY_DEVICES}{group_jid}")).await
    }

    async fn delete_sender_key_device_rows(&self, device_jids: &[&str]) -> Result<()> {
        self.items.delete_in_spaces(SENDER_KEY_DEVICES, Some(device_jids)).await.map_err(db)
    }

    async fn clear_all_sender_key_devices(&self) -> Result<()> {
        self.items.delete_in_spaces(SENDER_KEY_DEVICES, None).await.map_err(db)
    }

    async fn get_lid_mapping(&self, lid: &str) -> Result<Option<LidPnMappingEntry>> {
        self.value(LID, lid).await?.map(|v| from_json(&v)).transpose()
    }

    async fn get_pn_mapping(&self, phone: &str) -> Result<Option<LidPnMappingEntry>> {
        let Some(lid) = self.value(PN, phone).await? else { return Ok(None) };
        let lid = String::from_utf8(lid).map_err(|e| WaError::Serialization(Box::new(e)))?;
        // A LID mapped to another number since no longer answers for this one.
        Ok(self.get_lid_mapping(&lid).await?.filter(|m| m.phone_number == phone))
    }

    async fn put_lid_mapping(&self, entry: &LidPnMappingEntry) -> Result<()> {
        self.put_lid_mappings(std::slice::from_ref(entry)).await
    }

    async fn put_lid_mappings(&self, entries: &[LidPnMappingEntry]) -> Result<()> {
        let (by_lid, by_pn) = lid_items(entries)?;
        self.put(LID, &by_lid).await?;
        // A phone number answers with the LID it was most recently mapped to.
        self.put_merged(PN, &by_pn, OnConflict::KeepNewer).await
    }

    async fn get_all_lid_mappings(&self) -> Result<Vec<LidPnMappingEntry>> {
        let items = self.items.list(LID).await.map_err(db)?;
        items.iter().map(|i| from_json(&i.value)).collect()
    }

    async fn save_base_key(&self, address: &str, message_id: &str, base_key: &[u8]) -> Result<()> {
        self.put(BASE_KEY, &[item(joined(&[address, message_id]), base_key)]).await
    }

    async fn has_same_base_key(&self, address: &str, message_id: &str, current_base_key: &[u8]) -> Result<bool> {
        Ok(self.value(BASE_KEY, &joined(&[address, message_id])).await?.is_some_and(|k| k == current_base_key))
    }

    async fn delete_base_key(&self, address: &str, message_id: &str) -> Result<()> {
        self.delete(BASE_KEY, &[&joined(&[address, message_id])]).await
    }

    async fn update_device_list(&self, record: DeviceListRecord) -> Result<()> {
        self.update_device_lists(vec![record]).await
    }

    async fn update_device_lists(&self, records: Vec<DeviceListRecord>) -> Result<()> {
        let items = records.iter().map(|r| Ok(item(&r.user, to_json(r)?))).collect::<Result<Vec<Item>>>()?;
        self.put(DEVICE_LIST, &items).await
    }

    async fn get_devices(&self, user: &str) -> Result<Option<DeviceListRecord>> {
        self.value(DEVICE_LIST, user).await?.map(|v| from_json(&v)).transpose()
    }

    async fn delete_devices(&self, user: &str) -> Result<()> {
        self.delete(DEVICE_LIST, &[user]).await
    }

    async fn get_group_metadata(&self, group_jid: &str) -> Result<Option<Vec<u8>>> {
        self.value(GROUP, group_jid).await
    }

    async fn put_group_metadata(&self, group_jid: &str, blob: &[u8]) -> Result<()> {
        self.put(GROUP, &[item(group_jid, blob)]).await
    }

    async fn delete_group_metadata(&self, group_jid: &str) -> Result<()> {
        self.delete(GROUP, &[group_jid]).await
    }

    async fn get_tc_token(&self, jid: &str) -> Result<Option<TcTokenEntry>> {
        Ok(self.get(TC_TOKEN, jid).await?.map(tc_entry))
    }

    async fn put_tc_token(&self, jid: &str, entry: &TcTokenEntry) -> Result<()> {
        let it = Item { at: entry.token_timestamp, other_at: entry.sender_timestamp, ..item(jid, entry.token.clone()) };
        self.put(TC_TOKEN, &[it]).await
    }

    async fn delete_tc_token(&self, jid: &str) -> Result<()> {
        self.delete(TC_TOKEN, &[jid]).await
    }

    async fn get_all_tc_token_jids(&self) -> Result<Vec<String>> {
        self.items.names(TC_TOKEN).await.map_err(db)
    }

    async fn delete_expired_tc_tokens(&self, token_cutoff: i64, sender_cutoff: i64) -> Result<u32> {
        self.expire(TC_TOKEN, Expired::BothBefore(token_cutoff, sender_cutoff)).await
    }

    async fn touch_tc_token_sender_timestamp(&self, jid: &str, sender_timestamp: i64) -> Result<()> {
        // One statement, so it cannot race the writer of the received token.
        let placeholder = Item { at: sender_timestamp, other_at: Some(sender_timestamp), ..item(jid, Vec::new()) };
        self.put_merged(TC_TOKEN, &[placeholder], OnConflict::AdvanceOtherAt).await
    }

    async fn store_received_tc_token(&self, jid: &str, token: &[u8], token_timestamp: i64) -> Result<()> {
        let received = Item { at: token_timestamp, ..item(jid, token) };
        self.put_merged(TC_TOKEN, &[received], OnConflict::ReplaceEmptyOrOlder).await
    }

    async fn store_sent_message(&self, chat_jid: &str, message_id: &str, payload: &[u8]) -> Result<()> {
        self.put(SENT, &[Item { at: now_secs(), ..item(joined(&[chat_jid, message_id]), payload) }]).await
    }

    async fn take_sent_message(&self, chat_jid: &str, message_id: &str) -> Result<Option<Vec<u8>>> {
        self.items.take(SENT, &joined(&[chat_jid, message_id])).await.map_err(db)
    }

    async fn delete_expired_sent_messages(&self, cutoff_timestamp: i64) -> Result<u32> {
        self.expire(SENT, Expired::Before(cutoff_timestamp)).await
    }

    async fn store_pending_inbound(&self, chat: &str, sender: &str, id: &str, message: &[u8]) -> Result<()> {
        self.put(PENDING, &[Item { at: now_secs(), ..item(joined(&[chat, sender, id]), message) }]).await
    }

    async fn get_pending_inbound(&self, chat: &str, sender: &str, id: &str) -> Result<Option<Vec<u8>>> {
        self.value(PENDING, &joined(&[chat, sender, id])).await
    }

    async fn delete_pending_inbound(&self, chat: &str, sender: &str, id: &str) -> Result<()> {
        self.delete(PENDING, &[&joined(&[chat, sender, id])]).await
    }

    async fn delete_expired_pending_inbound(&self, cutoff_timestamp: i64) -> Result<u32> {
        self.expire(PENDING, Expired::Before(cutoff_timestamp)).await
    }

    async fn store_pending_inbound_batch(&self, rows: &[PendingInboundRow<'_>]) -> Result<()> {
        let now = now_secs();
        let items: Vec<Item> =
            rows.iter().map(|r| Item { at: now, ..item(joined(&[r.chat, r.sender, r.id]), r.message) }).collect();
        self.put(PENDING, &items).await
    }

    async fn delete_pending_inbound_batch(&self, keys: &[PendingInboundKey<'_>]) -> Result<()> {
        let names: Vec<String> = keys.iter().map(|k| joined(&[k.chat, k.sender, k.id])).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        self.delete(PENDING, &names).await
    }
}

#[async_trait]
impl MsgSecretStore for DatabaseDevice {
    async fn put_msg_secrets(&self, entries: Vec<MsgSecretEntry>) -> Result<usize> {
        let items: Vec<Item> = entries
            .iter()
            .map(|e| Item {
                at: e.expires_at,
                other_at: Some(e.message_ts),
                ..item(joined(&[&e.chat, &e.sender, &e.msg_id]), e.secret)
            })
            .collect();
        self.put_merged(SECRET, &items, OnConflict::LaterDeadline).await?;
        Ok(items.len())
    }

    async fn get_msg_secret(&self, chat: &str, sender: &str, msg_id: &str) -> Result<Option<Vec<u8>>> {
        self.value(SECRET, &joined(&[chat, sender, msg_id])).await
    }

    async fn get_msg_secret_with_ts(&self, chat: &str, sender: &str, msg_id: &str) -> Result<Option<(Vec<u8>, i64)>> {
        Ok(self.get(SECRET, &joined(&[chat, sender, msg_id])).await?.map(|i| (i.value, i.other_at.unwrap_or(0))))
    }

    async fn delete_expired_msg_secrets(&self, cutoff_timestamp: i64) -> Result<u32> {
        self.expire(SECRET, Expired::DeadlinePassed(cutoff_timestamp)).await
    }
}

#[async_trait]
impl DeviceStore for DatabaseDevice {
    async fn save(&self, device: &Device) -> Result<()> {
        self.put(DEVICE, &[item("", to_json(device)?)]).await
    }

    async fn load(&self) -> Result<Option<Device>> {
        let Some(json) = self.value(DEVICE, "").await? else { return Ok(None) };
        let mut device: Device = from_json(&json)?;
        // What is not stored is what every process sets afresh, as the library's own store does.
        device.device_props = Arc::new(DEVICE_PROPS.clone());
        device.client_profile = ClientProfile::web();
        Ok(Some(device))
    }

    async fn exists(&self) -> Result<bool> {
        Ok(self.get(DEVICE, "").await?.is_some())
    }

    async fn create(&self) -> Result<i32> {
        self.save(&Device::new()).await?;
        Ok(DEVICE_ID)
    }

    async fn resource_report(&self) -> whatsapp_rust::wacore::stats::StorageResourceReport {
        // The state lives in the database, not in this process.
        whatsapp_rust::wacore::stats::StorageResourceReport { memory_bytes: Some(0), ..Default::default() }
    }
}
