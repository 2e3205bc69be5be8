//! One contact behind two addresses: which phone-number jid a LID belongs to, per session,
//! learned from messages the network reports with both.

use super::{Source, StoreResult, WriteTx};
use crate::model::{Jid, SessionKey};

/// Records that `lid` is `pn` (a later pairing replaces an earlier one).
pub async fn remember(w: &mut WriteTx, key: &SessionKey, lid: &Jid, pn: &Jid) -> StoreResult<()> {
    on_engine!(&mut *w, |e| sqlx::query(
        "INSERT INTO contact_ids (tenant_id, session_id, lid, pn) VALUES ($1, $2, $3, $4)
         ON CONFLICT(tenant_id, session_id, lid) DO UPDATE SET pn = excluded.pn",
    )
    .bind(&key.tenant)
    .bind(&key.session)
    .bind(lid.as_str())
    .bind(pn.as_str())
    .execute(e)
    .await?
    .rows_affected());
    Ok(())
}

/// The phone-number jid a LID was seen with.
pub async fn number_of<'e>(db: Source<'e>, key: &SessionKey, lid: &Jid) -> StoreResult<Option<Jid>> {
    let pn: Option<String> = on_engine!(&mut db.hold().await?, |e| sqlx::query_scalar(
        "SELECT pn FROM contact_ids WHERE tenant_id = $1 AND session_id = $2 AND lid = $3"
    )
    .bind(&key.tenant)
    .bind(&key.session)
    .bind(lid.as_str())
    .fetch_optional(e)
    .await?);
    Ok(pn.and_then(|p| Jid::parse(&p).ok()))
}
