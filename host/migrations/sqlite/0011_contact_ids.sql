-- Which phone-number jid a LID (`<digits>@lid`) belongs to, per session, learned from every
-- message the network reports with both. A contact WhatsApp starts addressing by LID alone
-- keeps its chat: the LID is read as the number it was seen with.
CREATE TABLE contact_ids (
    tenant_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    lid TEXT NOT NULL,
    pn TEXT NOT NULL,
    PRIMARY KEY (tenant_id, session_id, lid),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions(tenant_id, id) ON DELETE CASCADE
);
