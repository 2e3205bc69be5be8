//! The WhatsApp library's device state in the gateway's database (connector/whatsapp/devices.rs,
//! used on PostgreSQL): it answers every call as the library's own reference store does, keeps
//! sessions apart, and refuses the writes of a node that lost the session's lease. The suite
//! runs on both engines (the table is the same on SQLite, where production keeps files).
#![cfg(feature = "whatsapp")]

mod common;

use std::sync::Arc;

use common::{Tenant, TestGateway};
use wagate::connector::whatsapp::devices::DatabaseDevice;
use wagate::model::SessionKey;
use wagate::store::{Fence, Store, leases};
use whatsapp_rust::bytes::Bytes;
use whatsapp_rust::wacore::appstate::processor::AppStateMutationMAC;
use whatsapp_rust::wacore::store::Device;
use whatsapp_rust::wacore::store::in_memory::InMemoryBackend;
use whatsapp_rust::wacore::store::traits::{
    AppStateSyncKey, Backend, DeviceInfo, DeviceListRecord, LidPnMappingEntry, MsgSecretEntry, PendingInboundKey,
    PendingInboundRow, TcTokenEntry,
};

fn lid(lid: &str, phone: &str, updated_at: i64) -> LidPnMappingEntry {
    LidPnMappingEntry {
        lid: lid.into(),
        phone_number: phone.into(),
        created_at: 1,
        updated_at,
        learning_source: "usync".into(),
    }
}

fn secret(id: &str, fill: u8, expires_at: i64, message_ts: i64) -> MsgSecretEntry {
    MsgSecretEntry {
        chat: Arc::from("15550001111@s.whatsapp.net"),
        sender: Arc::from("15550002222@s.whatsapp.net"),
        msg_id: Arc::from(id),
        secret: [fill; 32],
        expires_at,
        message_ts,
    }
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// Every call of the store's contract, in an order that exercises its merges and expiries;
/// what each answered, as text.
async fn script(b: &dyn Backend, device: &Device) -> Vec<String> {
    let mut log: Vec<String> = Vec::new();
    macro_rules! rec {
        ($e:expr) => {{
            let out = $e.await;
            log.push(format!("{} => {:?}", stringify!($e), out.as_ref().map_err(|e| e.to_string())));
            out.unwrap()
        }};
    }
    // The device.
    rec!(b.exists());
    b.save(device).await.unwrap();
    rec!(b.exists());
    let loaded = b.load().await.unwrap().expect("the saved device loads");
    log.push(format!(
        "device round trip: {}",
        serde_json::to_string(&loaded).unwrap() == serde_json::to_string(device).unwrap()
    ));
    log.push(format!("device props set: {}", loaded.device_props.os.is_some()));

    // Signal: identities, sessions, pre-keys, signed pre-keys, sender keys.
    let alice = "15550001111.0";
    rec!(b.load_identity(alice));
    rec!(b.put_identity(alice, [7; 32]));
    rec!(b.put_identities_batch(&[(Arc::from("15550002222.0"), [8; 32]), (Arc::from(alice), [9; 32])]));
    rec!(b.load_identity(alice));
    rec!(b.delete_identity(alice));
    rec!(b.load_identity(alice));
    rec!(b.put_session(alice, b"ratchet-1"));
    rec!(b.put_sessions_batch(&[
        (Arc::from(alice), Bytes::from_static(b"ratchet-2")),
        (Arc::from("x.1"), Bytes::from_static(b"r"))
    ]));
    rec!(b.get_session(alice));
    rec!(b.has_session("x.1"));
    rec!(b.delete_session("x.1"));
    rec!(b.has_session("x.1"));
    rec!(b.get_max_prekey_id());
    rec!(b.store_prekey(2, b"pk2", false));
    rec!(b.store_prekeys_batch(&[(10, Bytes::from_static(b"pk10")), (9, Bytes::from_static(b"pk9"))], false));
    rec!(b.get_max_prekey_id());
    rec!(b.mark_prekeys_uploaded(&[2, 9]));
    rec!(b.remove_prekey(10));
    rec!(b.load_prekey(10));
    rec!(b.load_prekey(9));
    log.push(format!("prekeys batch: {:?}", sorted(b.load_prekeys_batch(&[2, 9, 10]).await.unwrap())));
    rec!(b.get_max_prekey_id());
    rec!(b.store_signed_prekey(3, b"spk3"));
    rec!(b.store_signed_prekey(1, b"spk1"));
    rec!(b.remove_signed_prekey(3));
    rec!(b.load_signed_prekey(1));
    log.push(format!("signed prekeys: {:?}", sorted(b.load_all_signed_prekeys().await.unwrap())));
    rec!(b.put_sender_key("group:alice", b"sk"));
    rec!(b.put_sender_keys_batch(&[(Arc::from("group:bob"), Bytes::from_static(b"sk-b"))]));
    rec!(b.get_sender_key("group:bob"));
    rec!(b.delete_sender_key("group:alice"));
    rec!(b.get_sender_key("group:alice"));

    // App-state sync.
    let key = |t| AppStateSyncKey { key_data: vec![1, 2, 3], fingerprint: vec![4], timestamp: t };
    rec!(b.get_latest_sync_key_id());
    rec!(b.set_sync_key(&[0, 0, 1], key(10)));
    rec!(b.set_sync_key(&[0, 0, 2], key(20)));
    log.push(format!("sync key: {:?}", b.get_sync_key(&[0, 0, 2]).await.unwrap().map(|k| k.timestamp)));
    rec!(b.get_latest_sync_key_id());
    log.push(format!("new collection: {}", b.get_version("regular").await.unwrap().version));
    let mut state = b.get_version("regular").await.unwrap();
    state.version = 7;
    state.hash[0] = 42;
    rec!(b.set_version("regular", state));
    let state = b.get_version("regular").await.unwrap();
    log.push(format!("collection: {} {}", state.version, state.hash[0]));
    let mac = |i: u8, v: u8| AppStateMutationMAC { index_mac: vec![i; 32], value_mac: vec![v; 32] };
    rec!(b.put_mutation_macs("regular", 7, &[mac(1, 11), mac(2, 12)]));
    rec!(b.put_mutation_macs("critical", 7, &[mac(1, 21)]));
    rec!(b.get_mutation_mac("regular", &[1; 32]));
    log.push(format!(
        "macs: {:?}",
        sorted(b.get_mutation_macs("regular", &[[1; 32], [2; 32], [3; 32]]).await.unwrap().into_iter().collect())
    ));
    rec!(b.delete_mutation_macs("regular", &[vec![1; 32]]));
    rec!(b.get_mutation_mac("regular", &[1; 32]));
    rec!(b.clear_mutation_macs("regular"));
    rec!(b.get_mutation_mac("regular", &[2; 32]));
    rec!(b.get_mutation_mac("critical", &[1; 32]));

    // Sender-key distribution per group device.
    let (g1, g2) = ("1203@g.us", "1204@g.us");
    rec!(b.set_sender_key_status(g1, &[("d1", true), ("d2", false)]));
    rec!(b.set_sender_key_status(g1, &[("d2", true)]));
    rec!(b.set_sender_key_status(g2, &[("d1", true), ("d3", false)]));
    log.push(format!("g1: {:?}", sorted(b.get_sender_key_devices(g1).await.unwrap())));
    rec!(b.delete_sender_key_device_rows(&["d1"]));
    log.push(format!(
        "g1, g2: {:?} {:?}",
        sorted(b.get_sender_key_devices(g1).await.unwrap()),
        sorted(b.get_sender_key_devices(g2).await.unwrap())
    ));
    rec!(b.clear_sender_key_devices(g1));
    log.push(format!("g1 cleared: {:?}", b.get_sender_key_devices(g1).await.unwrap()));
    rec!(b.clear_all_sender_key_devices());
    log.push(format!("g2 cleared: {:?}", b.get_sender_key_devices(g2).await.unwrap()));

    // LID <-> phone number.
    let lids = |v: Option<LidPnMappingEntry>| v.map(|m| (m.lid, m.phone_number, m.updated_at));
    rec!(b.put_lid_mapping(&lid("100", "5511", 10)));
    rec!(b.put_lid_mappings(&[lid("200", "5522", 20), lid("300", "5533", 30)]));
    log.push(format!("by lid: {:?}", lids(b.get_lid_mapping("200").await.unwrap())));
    log.push(format!("by pn: {:?}", lids(b.get_pn_mapping("5511").await.unwrap())));
    // The LID moves to another number: the old number no longer answers with it.
    rec!(b.put_lid_mapping(&lid("100", "5544", 40)));
    log.push(format!("old pn: {:?}", lids(b.get_pn_mapping("5511").await.unwrap())));
    log.push(format!("new pn: {:?}", lids(b.get_pn_mapping("5544").await.unwrap())));
    let mut all: Vec<_> = b.get_all_lid_mappings().await.unwrap().into_iter().map(|m| lids(Some(m))).collect();
    all.sort();
    log.push(format!("all: {all:?}"));

    // Base keys, device lists, group metadata.
    rec!(b.save_base_key(alice, "M1", b"base"));
    rec!(b.has_same_base_key(alice, "M1", b"base"));
    rec!(b.has_same_base_key(alice, "M1", b"other"));
    rec!(b.delete_base_key(alice, "M1"));
    rec!(b.has_same_base_key(alice, "M1", b"base"));
    let record = DeviceListRecord {
        user: "5511".into(),
        devices: vec![DeviceInfo::new(0, None), DeviceInfo::new(3, Some(1)).with_hosting(true)],
        timestamp: 5,
        phash: Some("2:abc".into()),
        raw_id: Some(9),
    };
    rec!(b.update_device_list(record.clone()));
    rec!(b.update_device_lists(vec![DeviceListRecord { user: "5522".into(), ..record }]));
    log.push(format!(
        "devices: {:?}",
        b.get_devices("5511").await.unwrap().map(|r| (r.devices.len(), r.phash, r.raw_id))
    ));
    rec!(b.delete_devices("5511"));
    log.push(format!("devices gone: {:?}", b.get_devices("5511").await.unwrap().is_none()));
    rec!(b.put_group_metadata(g1, b"meta"));
    rec!(b.get_group_metadata(g1));
    rec!(b.delete_group_metadata(g1));
    rec!(b.get_group_metadata(g1));

    // Trusted-contact tokens: each writer owns its field, newer wins, expiry needs both stale.
    let tc = |v: Option<TcTokenEntry>| v.map(|e| (e.token, e.token_timestamp, e.sender_timestamp));
    rec!(b.put_tc_token("j1", &TcTokenEntry { token: b"t1".to_vec(), token_timestamp: 100, sender_timestamp: None }));
    rec!(b.touch_tc_token_sender_timestamp("j1", 50));
    rec!(b.touch_tc_token_sender_timestamp("j1", 40));
    rec!(b.store_received_tc_token("j1", b"stale", 90));
    log.push(format!("j1: {:?}", tc(b.get_tc_token("j1").await.unwrap())));
    rec!(b.store_received_tc_token("j1", b"t2", 200));
    log.push(format!("j1: {:?}", tc(b.get_tc_token("j1").await.unwrap())));
    rec!(b.touch_tc_token_sender_timestamp("j2", 300));
    log.push(format!("j2: {:?}", tc(b.get_tc_token("j2").await.unwrap())));
    rec!(b.store_received_tc_token("j2", b"t3", 10));
    log.push(format!("j2: {:?}", tc(b.get_tc_token("j2").await.unwrap())));
    rec!(b.put_tc_token("j3", &TcTokenEntry { token: b"t".to_vec(), token_timestamp: 5, sender_timestamp: Some(5) }));
    log.push(format!("jids: {:?}", sorted(b.get_all_tc_token_jids().await.unwrap())));
    rec!(b.delete_expired_tc_tokens(150, 60));
    log.push(format!("jids: {:?}", sorted(b.get_all_tc_token_jids().await.unwrap())));
    rec!(b.delete_tc_token("j2"));
    rec!(b.delete_expired_tc_tokens(i64::MAX, i64::MAX));
    rec!(b.get_all_tc_token_jids());

    // Sent messages (for retries) and pending inbound messages.
    rec!(b.store_sent_message("c@s.whatsapp.net", "S1", b"payload"));
    rec!(b.take_sent_message("c@s.whatsapp.net", "S1"));
    rec!(b.take_sent_message("c@s.whatsapp.net", "S1"));
    rec!(b.store_sent_message("c@s.whatsapp.net", "S2", b"payload"));
    rec!(b.delete_expired_sent_messages(0));
    rec!(b.delete_expired_sent_messages(i64::MAX));
    rec!(b.store_pending_inbound("c", "s", "P1", b"m1"));
    rec!(b.store_pending_inbound_batch(&[PendingInboundRow { chat: "c", sender: "s", id: "P2", message: b"m2" }]));
    rec!(b.get_pending_inbound("c", "s", "P2"));
    rec!(b.delete_pending_inbound("c", "s", "P1"));
    rec!(b.get_pending_inbound("c", "s", "P1"));
    rec!(b.delete_pending_inbound_batch(&[PendingInboundKey { chat: "c", sender: "s", id: "P2" }]));
    rec!(b.get_pending_inbound("c", "s", "P2"));
    rec!(b.store_pending_inbound("c", "s", "P3", b"m3"));
    rec!(b.delete_expired_pending_inbound(0));
    rec!(b.delete_expired_pending_inbound(i64::MAX));

    // Message secrets: a later deadline (0: never) and a known parent time are kept.
    rec!(b.put_msg_secrets(vec![secret("M1", 1, 100, 5), secret("M2", 2, 0, 0)]));
    rec!(b.put_msg_secrets(vec![secret("M1", 1, 50, 0), secret("M2", 2, 70, 9)]));
    let (c, s) = ("15550001111@s.whatsapp.net", "15550002222@s.whatsapp.net");
    rec!(b.get_msg_secret_with_ts(c, s, "M1"));
    rec!(b.get_msg_secret_with_ts(c, s, "M2"));
    rec!(b.delete_expired_msg_secrets(99));
    rec!(b.delete_expired_msg_secrets(100));
    rec!(b.get_msg_secret(c, s, "M1"));
    rec!(b.get_msg_secret(c, s, "M2"));
    log
}

async fn session_store(gw: &TestGateway, tenant: &str, session: &str) -> (Store, SessionKey, Tenant) {
    let t = gw.tenant(tenant).await;
    gw.session(&t, session).await;
    (gw.gateway.state.store.clone(), SessionKey::new(tenant, session), t)
}

#[tokio::test]
async fn the_database_device_answers_as_the_reference_store_does() {
    let gw = TestGateway::start().await;
    let (store, key, _) = session_store(&gw, "acme", "s1").await;
    let mut device = Device::new();
    device.push_name = "Ana".into();
    device.login_counter = 3;

    let reference = script(&InMemoryBackend::new(), &device).await;
    let ours = script(&DatabaseDevice::new(&store, key.clone()), &device).await;
    for (n, (want, got)) in reference.iter().zip(&ours).enumerate() {
        assert_eq!(got, want, "step {n} differs");
    }
    assert_eq!(ours.len(), reference.len());

    // Another session of the same database has a device of its own.
    let (_, other, _) = session_store(&gw, "beta", "s1").await;
    let theirs = DatabaseDevice::new(&store, other);
    assert!(!whatsapp_rust::wacore::store::traits::DeviceStore::exists(&theirs).await.unwrap());
    use whatsapp_rust::wacore::store::traits::SignalStore;
    assert!(theirs.get_session("15550001111.0").await.unwrap().is_none());
    assert!(DatabaseDevice::new(&store, key).get_session("15550001111.0").await.unwrap().is_some());
}

/// In cluster mode every device write carries the session's lease: once the lease has moved to
/// another node, the old node's writes change nothing (a write that replaces is refused), so it
/// cannot overwrite the Signal state of the node that took the session over.
#[tokio::test]
async fn a_node_that_lost_the_lease_cannot_write_the_device() {
    use whatsapp_rust::wacore::store::traits::{DeviceStore, SignalStore};
    let gw = TestGateway::start().await;
    let (store, key, acme) = session_store(&gw, "acme", "s1").await;
    let now = chrono::Utc::now().timestamp_millis();
    let lease = |node: &'static str, now: i64| {
        let (store, key) = (store.clone(), key.clone());
        async move {
            let mut w = store.begin_write().await.unwrap();
            let token = leases::acquire(&mut w, &key, node, now, 60_000).await.unwrap().expect("lease taken");
            w.commit().await.unwrap();
            token
        }
    };
    let token_a = lease("a", now).await;
    let on_a =
        DatabaseDevice::new(&store.fenced(Fence { key: key.clone(), node: "a".into(), token: token_a }), key.clone());
    on_a.save(&Device::new()).await.unwrap();
    on_a.put_session("peer.0", b"from-a").await.unwrap();

    // Node a's lease expires and node b takes the session over.
    let token_b = lease("b", now + 120_000).await;
    assert!(token_b > token_a);
    let on_b =
        DatabaseDevice::new(&store.fenced(Fence { key: key.clone(), node: "b".into(), token: token_b }), key.clone());
    on_b.put_session("peer.0", b"from-b").await.unwrap();

    let refused = on_a.put_session("peer.0", b"stale").await.unwrap_err().to_string();
    assert!(refused.contains("database"), "{refused}");
    on_a.delete_session("peer.0").await.unwrap();
    on_a.put_identity("peer.0", [1; 32]).await.unwrap_err();
    assert_eq!(on_b.get_session("peer.0").await.unwrap().as_deref(), Some(&b"from-b"[..]));
    assert!(on_b.load_identity("peer.0").await.unwrap().is_none());
    assert!(on_b.exists().await.unwrap(), "the device node a created is node b's now");

    // Deleting the session takes its device with it.
    let (s, b) = gw.call(axum::http::Method::DELETE, "/api/v1/sessions/s1", Some(&acme.api_key), None).await;
    assert!(s.is_success(), "{s} {b}");
    assert!(!DatabaseDevice::new(&store, key).exists().await.unwrap());
}
