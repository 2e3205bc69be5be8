-- Metadata of a media message (mime type, size, duration, file name, ...) as JSON text.
ALTER TABLE messages ADD COLUMN media TEXT;
