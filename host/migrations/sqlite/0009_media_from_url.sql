-- The URL an outbound message's file is still to be fetched from (a send's `media.url`);
-- cleared once the file is stored or the fetch has failed the message.
ALTER TABLE messages ADD COLUMN media_source TEXT;
