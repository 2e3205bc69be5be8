-- When a message's file was deleted for being older than the retention period
-- (media.retention_secs); its media_url is cleared then and GET .../media answers 410.
ALTER TABLE messages ADD COLUMN media_expired_at TEXT;
CREATE INDEX messages_media_kept ON messages (timestamp) WHERE media_url IS NOT NULL;
